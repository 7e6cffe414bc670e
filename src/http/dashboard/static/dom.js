// @ts-check
/**
 * Element helpers: every node is built with `createElement` and `textContent`, never from HTML
 * strings, so a symbol or worker id can never become markup.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * @typedef {Record<string, string | number | boolean | null | undefined>} Attrs
 * @typedef {Node | string | null | undefined | false} Child
 */

/**
 * An HTML element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {Child[]} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

/**
 * An SVG element.
 * @template {keyof SVGElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {Child[]} [children]
 * @returns {SVGElementTagNameMap[K]}
 */
export function s(tag, attrs = {}, children = []) {
  const node = /** @type {SVGElementTagNameMap[K]} */ (document.createElementNS(SVG_NS, tag));
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

/**
 * @param {Element} node
 * @param {Attrs} attrs
 */
function setAttrs(node, attrs) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? '' : String(value));
  }
}

/**
 * @param {Node} node
 * @param {Child[]} children
 */
function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/**
 * The element with this id; a missing one is a bug in the page, so it throws.
 * @template {HTMLElement | SVGElement} T
 * @param {string} id
 * @param {new (...args: never[]) => T} type
 * @returns {T}
 */
export function byId(id, type) {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`#${id} is missing or not a ${type.name}`);
  return node;
}

/**
 * Replaces the children of `node`.
 * @param {Node} node
 * @param {Child[]} children
 */
export function replace(node, children) {
  while (node.firstChild) node.removeChild(node.firstChild);
  append(node, children);
}

/**
 * Replays a CSS animation by swapping between two class names bound to the same keyframes, which
 * restarts it without forcing a layout (reading `offsetWidth` per cell would, many times a second).
 * @param {Element} node
 * @param {string} name
 */
export function restartAnimation(node, name) {
  const a = `${name}-a`;
  const b = `${name}-b`;
  if (node.classList.contains(a)) node.classList.replace(a, b);
  else if (node.classList.contains(b)) node.classList.replace(b, a);
  else node.classList.add(a);
}
