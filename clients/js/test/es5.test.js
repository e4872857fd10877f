'use strict';
// herald.js ships unbuilt to old browsers: it must parse as ES5 with no
// reserved words as property names (IE8's parser), and avoid library calls
// that IE8 lacks. Two independent checks: Node's own bundled acorn parser in
// ES5 mode (reached with --expose-internals, so no npm), and a token scan
// that runs everywhere.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const FILE = path.join(__dirname, '..', 'herald.js');
const SRC = fs.readFileSync(FILE, 'utf8');

test('parses as ES5 (acorn, ecmaVersion 5, reserved words never as names)', (t) => {
  const script = `
    let acorn;
    try { acorn = require('internal/deps/acorn/acorn/dist/acorn'); } catch (e) { process.exit(77); }
    try {
      acorn.parse(require('fs').readFileSync(process.argv[1], 'utf8'), { ecmaVersion: 5, sourceType: 'script', allowReserved: 'never' });
    } catch (e) { console.error(e.message); process.exit(1); }`;
  const r = spawnSync(process.execPath, ['--expose-internals', '-e', script, FILE], { encoding: 'utf8' });
  if (r.status === 77 || /bad option|expose.internals/i.test(r.stderr || '')) {
    t.skip('this Node has no bundled acorn reachable; the token scan below still runs');
    return;
  }
  assert.strictEqual(r.status, 0, `herald.js is not ES5: ${r.stderr}`);
});

test('the acorn check does catch ES2015+ syntax', (t) => {
  const script = `
    let acorn;
    try { acorn = require('internal/deps/acorn/acorn/dist/acorn'); } catch (e) { process.exit(77); }
    const bad = ['let a = 1;', 'var f = () => 1;', 'class A {}', 'var s = \`x\`;', 'var o = {a}', 'f(a,)', 'o.default = 1', 'var {a} = o;'];
    for (const b of bad) { try { acorn.parse(b, { ecmaVersion: 5, allowReserved: 'never' }); console.log('accepted: ' + b); process.exit(1); } catch (e) { /* rejected */ } }`;
  const r = spawnSync(process.execPath, ['--expose-internals', '-e', script], { encoding: 'utf8' });
  if (r.status === 77 || /bad option/i.test(r.stderr || '')) { t.skip('no bundled acorn'); return; }
  assert.strictEqual(r.status, 0, r.stdout + r.stderr);
});

// Splits JS source into tokens, dropping comments and the bodies of strings,
// templates and regular expressions (a '/' is a regex where a value cannot end).
function tokens(src) {
  const out = [];
  let i = 0;
  const prevAllowsRegex = () => {
    const p = out[out.length - 1];
    if (!p) return true;
    if (p.type === 'num' || p.type === 'str' || p.type === 'regex') return false;
    if (p.type === 'name') return /^(return|typeof|instanceof|in|of|new|delete|void|throw|case|do|else)$/.test(p.v);
    return !/^[)\]}]$/.test(p.v);
  };
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    if (src.startsWith('//', i)) { i = src.indexOf('\n', i); if (i < 0) break; continue; }
    if (src.startsWith('/*', i)) { i = src.indexOf('*/', i + 2) + 2; continue; }
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      out.push({ type: c === '`' ? 'template' : 'str', v: c });
      i = j + 1; continue;
    }
    if (c === '/' && prevAllowsRegex()) {
      let j = i + 1; let cls = false;
      while (j < src.length && (cls || src[j] !== '/')) {
        if (src[j] === '\\') j++; else if (src[j] === '[') cls = true; else if (src[j] === ']') cls = false;
        j++;
      }
      j++;
      while (/[a-z]/.test(src[j] || '')) j++;
      out.push({ type: 'regex', v: src.slice(i, j) });
      i = j; continue;
    }
    const name = /^[A-Za-z_$][\w$]*/.exec(src.slice(i, i + 64));
    if (name) { out.push({ type: 'name', v: name[0] }); i += name[0].length; continue; }
    const num = /^(0[xX][\da-fA-F]+|\d+\.?\d*(e[+-]?\d+)?|\.\d+)/.exec(src.slice(i, i + 64));
    if (num) { out.push({ type: 'num', v: num[0] }); i += num[0].length; continue; }
    const punct = /^(\.\.\.|=>|\?\?=?|\?\.|\*\*=?|>>>=?|===|!==|<<=|>>=|&&=|\|\|=|[-+*/%&|^<>!=]=|&&|\|\||\+\+|--|<<|>>|[{}()[\];,<>+\-*/%&|^!~?:=.])/.exec(src.slice(i, i + 4));
    if (punct) { out.push({ type: 'punct', v: punct[0] }); i += punct[0].length; continue; }
    out.push({ type: 'other', v: c }); i++;
  }
  return out;
}

const RESERVED = new Set(('break case catch class const continue debugger default delete do else enum export extends false finally for function if import in ' +
  'instanceof new null return super switch this throw true try typeof var void while with implements interface let package private protected public static yield').split(' '));
const ES6_NAMES = new Set(['let', 'const', 'class', 'async', 'await', 'yield', 'import', 'export', 'of', 'Promise', 'Symbol', 'Map', 'Set', 'WeakMap', 'Proxy', 'Reflect']);
const ES6_PUNCT = new Set(['=>', '...', '**', '**=', '?.', '??', '??=', '&&=', '||=']);
// ES5 library calls IE8 does not have; the client uses plain loops instead.
const IE8_MISSING = new Set(['forEach', 'map', 'filter', 'reduce', 'some', 'every', 'bind', 'trim', 'isArray', 'keys', 'create', 'defineProperty', 'getPrototypeOf']);

function es5Problems(src) {
  const t = tokens(src);
  const problems = [];
  for (let k = 0; k < t.length; k++) {
    const x = t[k]; const prev = t[k - 1] || {}; const next = t[k + 1] || {};
    const where = () => t.slice(Math.max(0, k - 3), k + 3).map((y) => y.v).join(' ');
    if (x.type === 'template') problems.push(`template literal near: ${where()}`);
    if (x.type === 'punct' && ES6_PUNCT.has(x.v)) problems.push(`'${x.v}' near: ${where()}`);
    if (x.type === 'name' && prev.v !== '.' && ES6_NAMES.has(x.v)) problems.push(`'${x.v}' near: ${where()}`);
    if (x.type === 'name' && prev.v === '.' && RESERVED.has(x.v)) problems.push(`reserved word as property name: ${where()}`);
    if (x.type === 'name' && RESERVED.has(x.v) && next.v === ':' && (prev.v === '{' || prev.v === ',')) {
      problems.push(`reserved word as object key: ${where()}`);
    }
    if (x.type === 'name' && prev.v === '.' && IE8_MISSING.has(x.v) && next.v === '(') problems.push(`ES5 library call IE8 lacks: ${where()}`);
    if (x.v === 'function' && next.v === '*') problems.push(`generator near: ${where()}`);
    if (x.v === ',' && (next.v === '}' || next.v === ']' || next.v === ')')) problems.push(`trailing comma near: ${where()}`);
  }
  return problems;
}

test('token scan: no ES2015+ syntax, no IE8-hostile names or calls', () => {
  assert.deepStrictEqual(es5Problems(SRC), []);
});

test('the token scan catches what it should and ignores strings, comments and regexes', () => {
  const bad = ['let a = 1;', 'const b = 2;', 'var f = (x) => x;', 'class A {}', 'var s = `t`;', 'f(...a);', 'a ?? b', 'a?.b',
    'o.default = 1', 'var o = { delete: 1 };', 'a.forEach(f);', 'f(a, b,);', 'var x = [1, 2,];', 'for (var x of y) {}', 'new Promise(f);', 'function* g() {}'];
  for (const b of bad) assert.ok(es5Problems(b).length > 0, `missed: ${b}`);
  const good = ['var s = "let => `x`"; // const class', '/* => */ var r = /=>`[/]/g; var d = a / b / c;', 'x.then(f, g);',
    'var o = { "default": 1 };', 'a["catch"](f);'];
  for (const g of good) assert.deepStrictEqual(es5Problems(g), [], g);
});
