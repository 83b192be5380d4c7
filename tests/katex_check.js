#!/usr/bin/env node
// Parse every math span with KaTeX, as GitHub, Jupyter and KaTeX pages would.
//
// stdin: JSON [{"tex": "...", "display": true|false, "where": "..."}, ...]
// stdout: JSON [{"where": ..., "tex": ..., "error": ...}] for the spans that fail
// (empty list = all parse). Exit 0 when all parse, 1 otherwise, 3 when katex is missing.
// strict: "error" makes KaTeX's warnings (Unicode text in math mode, …) failures too.
let katex;
try {
  katex = require("katex");
} catch (e) {
  process.stderr.write("katex is not installed (npm install --no-save katex)\n");
  process.exit(3);
}
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const spans = JSON.parse(input);
  const failures = [];
  for (const span of spans) {
    try {
      katex.renderToString(span.tex, { displayMode: span.display, throwOnError: true, strict: "error" });
    } catch (e) {
      failures.push({ where: span.where, tex: span.tex, error: String(e.message || e) });
    }
  }
  process.stdout.write(JSON.stringify(failures));
  process.exit(failures.length ? 1 : 0);
});
