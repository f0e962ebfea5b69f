"use strict";
// What "Replay failing test" offers: the failed tests that scope-replay lists.
const assert = require("assert");
const os = require("os");
const { failedTests } = require("../failed-tests");

const SCOPE_REPLAY = process.env.SCOPE_REPLAY;
const DEMO = process.env.SCOPE_DEMO;

describe("failedTests", function () {
  it("names the demo's failing test", async function () {
    assert.deepStrictEqual(await failedTests(SCOPE_REPLAY, DEMO), [
      "tests/test_stock.py::test_ship_takes_every_line",
    ]);
  });

  it("offers nothing where nothing was recorded", async function () {
    assert.deepStrictEqual(await failedTests(SCOPE_REPLAY, os.tmpdir()), []);
  });
});
