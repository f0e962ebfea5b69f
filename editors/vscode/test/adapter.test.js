"use strict";
// scope-replay's debug adapter driven by Microsoft's DebugClient, as VS Code drives it.
// SCOPE_REPLAY is the scope-replay command and SCOPE_DEMO a directory where fixtures/demo
// was recorded (tests/system/test_vscode_adapter.py sets both and runs this with npm test).
const assert = require("assert");
const fs = require("fs");
const path = require("path");
const { DebugClient } = require("@vscode/debugadapter-testsupport");

const SCOPE_REPLAY = process.env.SCOPE_REPLAY;
const DEMO = process.env.SCOPE_DEMO;
const TEST_FILE = /tests[\\/]test_stock\.py$/;
const STOCK = path.join(DEMO || "", "src", "inventory", "stock.py");
// The line of the demo's stock.py that holds a text (its lines move as the demo changes).
const stockLine = (text) =>
  fs.readFileSync(STOCK, "utf8").split("\n").findIndex((line) => line.includes(text)) + 1;

describe("scope-replay --dap", function () {
  let dc;

  before(function () {
    if (!SCOPE_REPLAY || !DEMO) {
      throw new Error("set SCOPE_REPLAY and SCOPE_DEMO (tests/system/test_vscode_adapter.py does)");
    }
  });

  beforeEach(async function () {
    dc = new DebugClient(SCOPE_REPLAY, "--dap", "pytest-scope", { cwd: DEMO });
    await dc.start();
    await Promise.all([
      dc.configurationSequence(),
      dc.launch({ test: "test_ship_takes_every_line" }),
      dc.assertStoppedLocation("exception", { path: TEST_FILE, line: 39 }),
    ]);
  });

  afterEach(() => dc.stop());

  it("announces stepping back and goto targets", async function () {
    const response = await dc.initializeRequest();
    assert.strictEqual(response.body.supportsStepBack, true);
    assert.strictEqual(response.body.supportsGotoTargetsRequest, true);
    assert.strictEqual(response.body.supportsHitConditionalBreakpoints, true);
  });

  it("shows the stack, the locals and the exception at the failure", async function () {
    const threads = await dc.threadsRequest();
    assert.deepStrictEqual(threads.body.threads, [{ id: 1, name: "thread 1" }]);
    const stack = await dc.stackTraceRequest({ threadId: 1 });
    assert.deepStrictEqual(
      stack.body.stackFrames.map((frame) => frame.name),
      ["test_ship_takes_every_line"],
    );
    const scopes = await dc.scopesRequest({ frameId: stack.body.stackFrames[0].id });
    assert.deepStrictEqual(
      scopes.body.scopes.map((scope) => scope.name),
      ["Locals", "Exception"],
    );
    const locals = await dc.variablesRequest({
      variablesReference: scopes.body.scopes[0].variablesReference,
    });
    const stock = locals.body.variables.find((variable) => variable.name === "stock");
    const fields = await dc.variablesRequest({ variablesReference: stock.variablesReference });
    const levels = fields.body.variables.find((variable) => variable.name === "levels");
    assert.strictEqual(levels.value, "{'apple': 9, 'pear': 4, 'plum': 5}");
    const exception = await dc.variablesRequest({
      variablesReference: scopes.body.scopes[1].variablesReference,
    });
    assert.strictEqual(exception.body.variables[0].type, "AssertionError");
  });

  it("steps back over the call that skipped a line, then into it again", async function () {
    await Promise.all([
      dc.stepBackRequest({ threadId: 1 }),
      dc.assertStoppedLocation("step", { path: TEST_FILE, line: 39 }),
    ]);
    await Promise.all([
      dc.stepBackRequest({ threadId: 1 }),
      dc.assertStoppedLocation("step", { path: TEST_FILE, line: 38 }),
    ]);
    await Promise.all([
      dc.stepInRequest({ threadId: 1 }),
      dc.assertStoppedLocation("step", { path: /stock\.py$/, line: stockLine("def ship(") }),
    ]);
  });

  it("runs backwards to a conditional breakpoint, and forwards to the exception", async function () {
    const set = await dc.setBreakpointsRequest({
      source: { path: STOCK },
      breakpoints: [{ line: stockLine("def take("), condition: "sku == 'apple'" }],
    });
    assert.strictEqual(set.body.breakpoints[0].verified, true);
    await Promise.all([
      dc.reverseContinueRequest({ threadId: 1 }),
      dc.assertStoppedLocation("breakpoint", { path: /stock\.py$/, line: stockLine("def take(") }),
    ]);
    await dc.setExceptionBreakpointsRequest({ filters: ["raised"] });
    await Promise.all([
      dc.continueRequest({ threadId: 1 }),
      dc.assertStoppedLocation("exception", { path: TEST_FILE, line: 39 }),
    ]);
  });

  it("evaluates paths and a value's history, never code", async function () {
    const lines = await dc.evaluateRequest({ expression: "order.lines" });
    assert.strictEqual(lines.body.result, "[('pear', 1)]");
    const history = await dc.evaluateRequest({ expression: "history(order.lines)" });
    assert.strictEqual(history.body.result, "6 change(s) of order.lines");
    const changes = await dc.variablesRequest({
      variablesReference: history.body.variablesReference,
    });
    const last = changes.body.variables[changes.body.variables.length - 1];
    assert.strictEqual(last.value, "[('pear', 1), ('plum', 1)] → [('pear', 1)] (as order.lines in Stock.ship)");
    await assert.rejects(dc.evaluateRequest({ expression: "__import__('os')" }), /not a path/);
  });

  it("answers a request it does not know with an error, and goes on", async function () {
    await assert.rejects(dc.customRequest("frobnicate"), /not a request this server answers/);
    const threads = await dc.threadsRequest();
    assert.strictEqual(threads.body.threads.length, 1);
  });
});
