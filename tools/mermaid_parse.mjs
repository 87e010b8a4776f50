// Parse Mermaid files with Mermaid's own parser (mermaid.parse) under jsdom.
//
//   npm install --prefix /tmp/mermaid mermaid jsdom
//   REFERRAL_ENGINE_MERMAID_NODE_MODULES=/tmp/mermaid/node_modules node tools/mermaid_parse.mjs a.mmd b.mmd
//
// Prints "ok <file> <diagram type>" or "error <file>: <parser message>" per file (stdin without
// files); exits 1 if any file does not parse. tests/test_exports.py runs it when the variable is set.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.REFERRAL_ENGINE_MERMAID_NODE_MODULES;
if (!modules) {
  console.error("set REFERRAL_ENGINE_MERMAID_NODE_MODULES to a node_modules folder with mermaid and jsdom");
  process.exit(2);
}
const require = createRequire(join(modules, "_resolve.js"));
const load = async (name) => import(pathToFileURL(require.resolve(name)).href);

const { JSDOM } = await load("jsdom");
const dom = new JSDOM("<!DOCTYPE html><html><body></body></html>", { pretendToBeVisual: true });
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const mermaid = (await load("mermaid")).default;
mermaid.initialize({ startOnLoad: false });

const files = process.argv.slice(2);
const texts = files.length ? files.map((file) => readFileSync(file, "utf8")) : [readFileSync(0, "utf8")];
let failed = 0;
for (const [index, text] of texts.entries()) {
  const name = files[index] ?? "-";
  try {
    const result = await mermaid.parse(text);
    console.log(`ok ${name} ${result.diagramType}`);
  } catch (error) {
    failed += 1;
    const message = String(error?.message ?? error).split("\n").slice(0, 4).join(" | ");
    console.log(`error ${name}: ${message}`);
  }
}
process.exit(failed ? 1 : 0);
