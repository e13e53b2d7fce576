#!/usr/bin/env node
// `lamina-js build`: a JavaScript or TypeScript module → a Lamina component.
//
//   lamina-js build app.ts                    handler: exports `app` (a Router or function) or the default export
//   lamina-js build timing.ts --middleware    middleware: exports `middleware` (a class) or the default export
//   lamina-js build app.ts -o dist/app.wasm --engine quickjs
//
// The module and what it imports are bundled into one file with esbuild (TypeScript is
// stripped there; type-check with `tsc --noEmit`), with `@lamina/sdk` resolved to this
// SDK, then componentized against the WIT that ships with this package: with
// componentize-js (SpiderMonkey, the default) or componentize-qjs (QuickJS). Modules run
// once, at build time (the engine's initialized heap is snapshotted), so do not call `log`
// or `config` at module load: the host is not there yet.

import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, delimiter, dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SDK = resolve(dirname(fileURLToPath(import.meta.url)), "..");

class BuildError extends Error {}

/** A tool's executable: in a node_modules/.bin above this SDK or the working directory,
 * in $LAMINA_JS_TOOLS/node_modules/.bin, where `cargo xtask` installs them in a checkout of
 * the Lamina repository (target/js-tools), or on PATH. */
function tool(name, hint) {
  const roots = [SDK, process.cwd()];
  const dirs = [];
  for (const root of roots) {
    for (let dir = root; ; dir = dirname(dir)) {
      dirs.push(join(dir, "node_modules", ".bin"));
      if (dirname(dir) === dir) break;
    }
  }
  if (process.env.LAMINA_JS_TOOLS) dirs.push(join(process.env.LAMINA_JS_TOOLS, "node_modules", ".bin"));
  dirs.push(join(SDK, "..", "..", "target", "js-tools", "node_modules", ".bin"));
  dirs.push(...(process.env.PATH ?? "").split(delimiter));
  const found = dirs.map((d) => join(d, name)).find((p) => existsSync(p));
  if (!found) throw new BuildError(`${name} is not installed: ${hint}`);
  return found;
}

function run(cmd, args, what) {
  const done = spawnSync(cmd, args, { encoding: "utf8" });
  if (done.error) throw new BuildError(`${what}: ${done.error.message}`);
  if (done.status !== 0) {
    throw new BuildError(`${what} failed (exit ${done.status}):\n${(done.stdout + done.stderr).trim()}`);
  }
}

/** The module the engine is pointed at: the user's module and the SDK's glue. */
export function entrySource(source, exportName, middleware) {
  const glue = JSON.stringify(join(SDK, "src", "component.ts"));
  const app = JSON.stringify(source);
  const pick = exportName
    ? `app[${JSON.stringify(exportName)}]`
    : `(app.${middleware ? "middleware" : "app"} ?? app.default)`;
  return middleware
    ? `import { middlewareExport } from ${glue};\nimport * as app from ${app};\nexport const requestMiddleware = middlewareExport(${pick});\n`
    : `import { handlerExport } from ${glue};\nimport * as app from ${app};\nexport const requestHandler = handlerExport(${pick});\n`;
}

export function build({ source, output, middleware = false, exportName, engine = "spidermonkey" }) {
  source = resolve(source);
  if (![".js", ".mjs", ".ts", ".mts"].includes(extname(source)) || !existsSync(source)) {
    throw new BuildError(`${source}: not a JavaScript or TypeScript file`);
  }
  if (!["spidermonkey", "quickjs"].includes(engine)) {
    throw new BuildError(`--engine must be spidermonkey or quickjs, not ${engine}`);
  }
  const wit = join(SDK, "wit");
  if (!existsSync(join(wit, "http.wit"))) throw new BuildError(`the SDK has no WIT at ${wit}: reinstall @lamina/sdk`);
  output = resolve(output);
  mkdirSync(dirname(output), { recursive: true });
  const world = middleware ? "middleware" : "handler";
  const tmp = mkdtempSync(join(tmpdir(), "lamina-js-"));
  try {
    const entry = join(tmp, "entry.js");
    const bundle = join(tmp, "bundle.js");
    writeFileSync(entry, entrySource(source, exportName, middleware));
    run(
      tool("esbuild", "npm install @lamina/sdk (it brings esbuild)"),
      [
        entry,
        "--bundle",
        "--format=esm",
        "--platform=neutral",
        "--target=es2022",
        "--log-level=warning",
        "--external:lamina:*",
        "--external:wasi:*",
        `--alias:@lamina/sdk=${join(SDK, "src", "index.ts")}`,
        `--outfile=${bundle}`,
      ],
      `bundling ${source}`,
    );
    if (engine === "quickjs") {
      // componentize-qjs 0.4.5 cannot pre-initialize a component that imports
      // wasi:http/types@0.2.12 (its linker's stream resources do not match), and QuickJS
      // has no fetch to use it: build against the worlds without the outbound-HTTP import.
      const sealed = join(tmp, "wit");
      cpSync(wit, sealed, { recursive: true, dereference: true });
      const text = readFileSync(join(sealed, "http.wit"), "utf8");
      writeFileSync(join(sealed, "http.wit"), text.replace(/^\s*import wasi:http\/outgoing-handler@[0-9.]+;\n/gm, ""));
      run(
        tool("componentize-qjs", "npm install componentize-qjs@0.4.5 to build with QuickJS"),
        ["--wit", sealed, "--js", bundle, "-n", world, "--sync", "-o", output],
        `componentize-qjs building ${source}`,
      );
    } else {
      run(
        tool("componentize-js", "npm install @lamina/sdk (it brings @bytecodealliance/componentize-js)"),
        // fetch-event is the wasi:http incoming-handler export, which a Lamina handler
        // does not have; outbound HTTP (fetch) stays.
        [bundle, "--wit", wit, "-n", world, "-d", "fetch-event", "-o", output],
        `componentize-js building ${source}`,
      );
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function main(argv) {
  const usage =
    "usage: lamina-js build <module.ts|.js> [-o out.wasm] [--middleware] [--export NAME] [--engine spidermonkey|quickjs]";
  if (argv[0] !== "build" || argv.length < 2) {
    console.error(usage);
    return 2;
  }
  const options = { middleware: false };
  const rest = argv.slice(1);
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === "--middleware") options.middleware = true;
    else if (arg === "-o" || arg === "--output") options.output = rest[++i];
    else if (arg === "--export") options.exportName = rest[++i];
    else if (arg === "--engine") options.engine = rest[++i];
    else if (arg.startsWith("-")) {
      console.error(`lamina-js: unknown option ${arg}\n${usage}`);
      return 2;
    } else if (options.source) {
      console.error(`lamina-js: one module at a time\n${usage}`);
      return 2;
    } else options.source = arg;
  }
  if (!options.source) {
    console.error(usage);
    return 2;
  }
  options.output ??= join(dirname(options.source), basename(options.source, extname(options.source)) + ".wasm");
  try {
    build(options);
  } catch (e) {
    if (e instanceof BuildError) {
      console.error(`lamina-js: ${e.message}`);
      return 1;
    }
    throw e;
  }
  console.log(options.output);
  return 0;
}

// Run as a command (also through node_modules/.bin's symlink), not when imported.
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  process.exitCode = main(process.argv.slice(2));
}
