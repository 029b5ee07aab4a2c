import { DOMParser, type Element } from '@xmldom/xmldom';

/**
 * XML for the deploy tests, in Node (@xmldom/xmldom, the W3C DOMParser) so that `npm test` needs
 * no other program. An element becomes a string (its trimmed text) when it has neither children
 * nor attributes, `{ '@': attributes, '#': text }` when it has attributes but no children, and
 * otherwise an object mapping each child tag to the list of those children, in document order.
 */
export type XmlJson = string | { '@': Record<string, string>; '#': string } | { [tag: string]: XmlJson[] };

/**
 * Parses `text` as XML and returns its root element as {@link XmlJson}.
 * @throws Error naming `file` and the parser's message when the text is not well-formed XML
 *   (mismatched or unclosed tags, a repeated attribute, an undefined entity, no root element).
 */
export function parseXml(text: string, file: string): XmlJson {
  const parser = new DOMParser({
    onError: (level, message) => {
      if (level !== 'warning') throw new Error(`${file} is not well-formed XML: ${message}`);
    },
  });
  const root = parser.parseFromString(text, 'text/xml').documentElement;
  if (!root) throw new Error(`${file} is not well-formed XML: no root element`);
  return toJson(root);
}

function toJson(element: Element): XmlJson {
  const children: Element[] = [];
  for (let n = element.firstChild; n; n = n.nextSibling) if (n.nodeType === n.ELEMENT_NODE) children.push(n as Element);
  const text = (element.textContent ?? '').trim();
  if (children.length === 0) {
    if (element.attributes.length === 0) return text;
    const attributes: Record<string, string> = {};
    for (let i = 0; i < element.attributes.length; i++) {
      const a = element.attributes.item(i);
      if (a) attributes[a.name] = a.value;
    }
    return { '@': attributes, '#': text };
  }
  const out: Record<string, XmlJson[]> = {};
  for (const child of children) (out[child.tagName] ??= []).push(toJson(child));
  return out;
}
