// npm leaves symlinks out of a package, and `wit` is one in the repository (to the
// canonical ../../wit). `prepack` replaces it with a copy so the package carries its WIT;
// `postpack` puts the link back. The repository's LICENSE and NOTICE (which covers the
// vendored WASI WIT) are copied in for the pack and removed after. Also refuses to pack
// without the built declarations.
import { cpSync, existsSync, lstatSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const sdk = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const wit = join(sdk, "wit");
const canonical = resolve(sdk, "../../wit");
const notices = ["LICENSE", "NOTICE"];

if (process.argv[2] === "copy") {
  if (!existsSync(join(sdk, "dist", "index.d.ts"))) {
    console.error("pack-wit: no dist/: build the SDK first (`npx tsc -p .` or `cargo xtask guests`)");
    process.exit(1);
  }
  if (lstatSync(wit).isSymbolicLink()) {
    rmSync(wit);
    cpSync(canonical, wit, { recursive: true });
  }
  for (const file of notices) cpSync(resolve(sdk, "../..", file), join(sdk, file));
} else if (process.argv[2] === "link") {
  if (existsSync(canonical) && !lstatSync(wit).isSymbolicLink()) {
    rmSync(wit, { recursive: true });
    symlinkSync("../../wit", wit);
    for (const file of notices) rmSync(join(sdk, file), { force: true });
  }
} else {
  console.error("usage: node scripts/pack-wit.mjs copy|link");
  process.exit(2);
}
