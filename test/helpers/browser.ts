// A real browser for the console's tests: Debian's Chromium (the `chromium` package; scripts/test-all.sh installs
// it) driven headless by playwright-core, and axe-core's accessibility check run inside the page.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Where Debian puts Chromium; CHROMIUM_PATH names another. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  // --no-sandbox: CI runs the tests as root, where Chromium's sandbox will not start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'], timeout: 60_000 });
}

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: number;
}

/** axe-core's serious and critical violations on the page as it is now (WCAG 2 A and AA rules and best practices). */
export async function seriousA11yViolations(page: Page): Promise<AxeViolation[]> {
  // Evaluated through the DevTools protocol, not added as a <script> (addScriptTag): the console's CSP refuses
  // inline script, as it should, and the test does not loosen it.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: axe-core's global, injected just above
    const r = await (window as any).axe.run(document, { resultTypes: ['violations'] });
    return (r.violations as Array<{ id: string; impact: string | null; help: string; nodes: unknown[] }>).map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.length,
    }));
  });
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
