// Debian's Chromium, as the browser tests, the screenshots script and the cells experiment
// launch it: headless, with no sandbox (CI runs as root) and no GPU process.
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'];
