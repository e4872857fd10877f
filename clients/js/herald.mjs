// ES module entry. herald.js is the only copy of the client; this file loads
// it and re-exports its value, so there is no build step and no duplicate.
// - In a browser, `import` runs herald.js as a module: it has no exports and
//   sets the global `Herald` (on `self`), which is read back here.
// - In Node and bundlers, herald.js is CommonJS: its module.exports arrives
//   as the namespace's `default`.
import * as loaded from './herald.js';

var Herald = (loaded && loaded['default']) || (typeof self !== 'undefined' ? self : globalThis).Herald;

export default Herald;
export { Herald };
