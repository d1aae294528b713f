// `npm run build`'s last step: the web console (packages/console) bundled by Vite into packages/hub/dist/console,
// which the hub serves at /console/ (packages/hub/src/http/console-files.ts).
// Vite's bundler (Rolldown) and CSS minifier (Lightning CSS) are native addons that npm installs as optional
// packages. On an install without them (`npm ci --omit=optional`, test/suites/fresh-clone.test.ts) the console is
// left out with one warning, and the hub answers /console/ with 404 "the console is not built"; everything else
// builds and runs as before. Any other build failure fails the build.
import { fileURLToPath } from 'node:url';

for (const addon of ['rolldown', 'lightningcss']) {
  try {
    await import(addon);
  } catch (err) {
    const why = String(err instanceof Error ? err.message : err).split('\n')[0];
    process.stderr.write(
      `build: the web console is not built: ${addon}'s native addon is not installed (${why}); npm install with optional packages builds it\n`,
    );
    process.exit(0);
  }
}
const { build } = await import('vite');
await build({ configFile: fileURLToPath(new URL('./vite.config.ts', import.meta.url)) });
