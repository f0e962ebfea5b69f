"use strict";
// The failed tests of the newest run, as `scope-replay --list --format json` lists them:
// what "Replay failing test" offers when the launch configuration names no test.
const { execFile } = require("child_process");

function failedTests(scopeReplay, cwd) {
  return new Promise((resolve) => {
    execFile(scopeReplay, ["--list", "--format", "json"], { cwd }, (error, stdout) => {
      if (error) {
        resolve([]); // no scope directory, or no scope-replay: the user types a test id
        return;
      }
      try {
        const failed = JSON.parse(stdout).tests.filter((test) => test.outcome === "failed");
        resolve([...new Set(failed.map((test) => test.nodeid))]); // reruns: one entry
      } catch {
        resolve([]);
      }
    });
  });
}

module.exports = { failedTests };
