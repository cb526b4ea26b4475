import { XMLParser, XMLValidator } from 'fast-xml-parser';

import { ProfileDefinitionError } from './model.js';

/**
 * Ed-Fi profile XML (as the ODS/API reads it: Ed-Fi-ODS-API-Profiles.xsd) turned into the JSON
 * form, which json-form.ts then checks. A root of <Profiles> or a single <Profile> is accepted.
 * Unknown elements and attributes are errors rather than ignored: a misspelt <Propety> must not
 * quietly drop a rule.
 */
const repeatable = new Set(['Profile', 'Resource', 'ReadContentType', 'WriteContentType', 'Property', 'Object', 'Collection', 'Extension', 'Filter', 'Value']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (name) => repeatable.has(name),
});

type XmlElement = Record<string, unknown>;

export function readXmlForm(text: string, where: string): unknown {
  return { profiles: readXmlProfiles(text, where).map((p) => (p.problem !== undefined ? fail(p.problem) : p.definition)) };
}

/** One profile of a file, converted to the JSON form, or the problem that stops it being used. */
export interface XmlProfile {
  name?: string;
  definition?: unknown;
  problem?: string;
}

/**
 * Each <Profile> of a file on its own: a problem in one leaves the others usable, as the ODS/API loads them. A file
 * that is not well-formed, or has the wrong root, throws: none of its profiles can be told apart.
 */
export function readXmlProfiles(text: string, where: string): XmlProfile[] {
  const wellFormed = XMLValidator.validate(text);
  if (wellFormed !== true) fail(`${where}: not well-formed XML: ${wellFormed.err.msg} (line ${wellFormed.err.line})`);
  const doc = parser.parse(text) as XmlElement;
  const roots = Object.keys(doc).filter((k) => !k.startsWith('?') && !k.startsWith('#'));
  if (roots.length !== 1 || !['Profiles', 'Profile'].includes(roots[0])) {
    fail(`${where}: the root element must be <Profiles> or <Profile>, found ${roots.map((r) => `<${r}>`).join(', ') || 'none'}`);
  }
  const profiles =
    roots[0] === 'Profiles' ? children(element(first(doc.Profiles), where, [], ['Profile']), 'Profile') : (doc.Profile as unknown[]);
  if (!profiles.length) fail(`${where}: <Profiles> holds no <Profile>`);
  return profiles.map((p, i) => {
    const name = p && typeof p === 'object' && typeof (p as XmlElement)['@name'] === 'string' ? ((p as XmlElement)['@name'] as string) : undefined;
    try {
      return { name, definition: profile(p, `${where}: <Profile> #${i + 1}`) };
    } catch (err) {
      if (!(err instanceof ProfileDefinitionError)) throw err;
      return { name, problem: err.message };
    }
  });
}

function profile(raw: unknown, where: string) {
  const el = element(raw, where, ['name'], ['Resource']);
  const name = el['@name'];
  return { name, resources: children(el, 'Resource').map((r, i) => resource(r, `${where} ${describe(name)}, <Resource> #${i + 1}`)) };
}

function resource(raw: unknown, where: string) {
  const el = element(raw, where, ['name', 'logicalSchema'], ['ReadContentType', 'WriteContentType']);
  const schema = el['@logicalSchema'];
  if (schema !== undefined && String(schema).toLowerCase() !== 'ed-fi') fail(`${where}: logicalSchema "${schema}" is not served here (only Ed-Fi)`);
  const at = `${where} ${describe(el['@name'])}`;
  return {
    name: el['@name'],
    readContentType: contentType(single(el, 'ReadContentType', at), `${at}, <ReadContentType>`),
    writeContentType: contentType(single(el, 'WriteContentType', at), `${at}, <WriteContentType>`),
  };
}

interface Place {
  attributes: string[];
  /** Only a <Collection> may carry a <Filter>. */
  filterAllowed: boolean;
}

const contentTypePlace: Place = { attributes: ['memberSelection'], filterAllowed: false };

function contentType(raw: unknown, where: string, place: Place = contentTypePlace): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined;
  const el = element(raw, where, place.attributes, ['Property', 'Object', 'Collection', 'Extension', 'Filter']);
  // Extension members live under `_ext`, which no resource here carries: the rules are checked and have nothing to shape.
  children(el, 'Extension').forEach((x, i) => contentType(x, `${where}, <Extension> #${i + 1}`, { attributes: ['name', 'memberSelection', 'logicalSchema'], filterAllowed: false }));
  if (el.Filter && !place.filterAllowed) fail(`${where}: <Filter> belongs inside a <Collection>`);
  const properties = children(el, 'Property').map((p, i) => element(p, `${where}, <Property> #${i + 1}`, ['name'], [])['@name']);
  const objects = children(el, 'Object').map((o, i) => nested(o, `${where}, <Object> #${i + 1}`, false));
  const collections = children(el, 'Collection').map((c, i) => nested(c, `${where}, <Collection> #${i + 1}`, true));
  return {
    memberSelection: el['@memberSelection'],
    ...(properties.length && { properties }),
    ...(objects.length && { objects }),
    ...(collections.length && { collections }),
  };
}

function nested(raw: unknown, where: string, isCollection: boolean): Record<string, unknown> {
  const name = raw && typeof raw === 'object' ? (raw as XmlElement)['@name'] : undefined;
  const at = `${where} ${describe(name)}`;
  const body = contentType(raw, at, { attributes: ['name', 'memberSelection', 'logicalSchema'], filterAllowed: isCollection });
  const filterElement = isCollection ? single(raw as XmlElement, 'Filter', at) : undefined;
  return { name, ...body, ...(filterElement !== undefined && { filter: filter(filterElement, `${at}, <Filter>`) }) };
}

function filter(raw: unknown, where: string): Record<string, unknown> {
  const el = element(raw, where, ['propertyName', 'filterMode'], ['Value']);
  const values = children(el, 'Value').map((v) => (typeof v === 'string' ? v : fail(`${where}: <Value> must hold text only`)));
  return { propertyName: el['@propertyName'], filterMode: el['@filterMode'], values };
}

/** Checks an element's attributes and child elements against what the XSD allows there. */
function element(raw: unknown, where: string, attributes: string[], childNames: string[]): XmlElement {
  if (raw === '' || raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null) fail(`${where}: unexpected text ${JSON.stringify(raw)}`);
  for (const key of Object.keys(raw)) {
    if (key.startsWith('@xmlns')) continue;
    if (key.startsWith('@') ? !attributes.includes(key.slice(1)) : !childNames.includes(key)) {
      const what = key.startsWith('@') ? `attribute ${key.slice(1)}` : key === '#text' ? 'text' : `element <${key}>`;
      fail(`${where}: unexpected ${what}`);
    }
  }
  return raw as XmlElement;
}

function children(el: XmlElement, name: string): unknown[] {
  return (el[name] as unknown[] | undefined) ?? [];
}

function single(el: XmlElement, name: string, where: string): unknown {
  const found = children(el, name);
  if (found.length > 1) fail(`${where}: at most one <${name}>`);
  return found[0];
}

function first(raw: unknown): unknown {
  return Array.isArray(raw) ? raw[0] : raw;
}

function describe(name: unknown): string {
  return typeof name === 'string' ? `"${name}"` : '(no name)';
}

function fail(message: string): never {
  throw new ProfileDefinitionError(message);
}
