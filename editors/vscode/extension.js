"use strict";
// The pytest-scope debug type: for each debug session VS Code starts `scope-replay --dap`,
// which answers the Debug Adapter Protocol on stdio over a recorded test.
const vscode = require("vscode");
const { failedTests } = require("./failed-tests");

function adapterFor(session) {
  const config = session.configuration;
  const folder = session.workspaceFolder ? session.workspaceFolder.uri.fsPath : undefined;
  return new vscode.DebugAdapterExecutable(config.scopeReplay || "scope-replay", ["--dap"], {
    cwd: config.cwd || folder,
  });
}

// F5 without a launch.json, or a configuration without a test: the failed test of the
// newest run, a choice among several, or a test id typed in.
async function resolve(folder, config) {
  if (!config.type) {
    Object.assign(config, { type: "pytest-scope", request: "launch", name: "Replay failing test" });
  }
  if (!config.test) {
    const cwd = config.cwd || (folder ? folder.uri.fsPath : undefined);
    const failed = await failedTests(config.scopeReplay || "scope-replay", cwd);
    if (failed.length === 1) {
      config.test = failed[0];
    } else if (failed.length > 1) {
      config.test = await vscode.window.showQuickPick(failed, {
        placeHolder: "The failed test to replay",
      });
    } else {
      config.test = await vscode.window.showInputBox({
        prompt: "The test to replay (a pytest node id, or part of one)",
        placeHolder: "tests/test_module.py::test_name",
      });
    }
    if (!config.test) {
      return undefined; // cancelled: no session
    }
  }
  return config;
}

function activate(context) {
  context.subscriptions.push(
    vscode.debug.registerDebugAdapterDescriptorFactory("pytest-scope", {
      createDebugAdapterDescriptor: adapterFor,
    }),
    vscode.debug.registerDebugConfigurationProvider("pytest-scope", {
      // After ${workspaceFolder} and the like are substituted: cwd is a real directory.
      resolveDebugConfigurationWithSubstitutedVariables: resolve,
    }),
  );
}

function deactivate() {}

module.exports = { activate, deactivate };
