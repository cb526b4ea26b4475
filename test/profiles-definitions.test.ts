import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import type { ClientRecord } from '../src/db/clients.js';
import { ApiError } from '../src/errors.js';
import { profilePolicy } from '../src/edfi/profiles/profile-policy.js';
import { loadProfiles } from '../src/edfi/profiles/registry.js';
import type { ResourceMeta } from '../src/edfi/resource-meta.js';

/**
 * Definition reading and start-up validation, below HTTP: the loader is what start-up calls, fed
 * here with a small resource whose schema has a nested object and a collection (the HTTP tests in
 * profiles.test.ts use the real resources).
 */
const descriptor = { type: 'string' };
const person: ResourceMeta = {
  name: 'people',
  edfiName: 'Person',
  mediaName: 'person',
  identity: ['personUniqueId'],
  schema: {
    type: 'object',
    required: ['personUniqueId', 'firstName'],
    properties: {
      personUniqueId: { type: 'string' },
      firstName: { type: 'string' },
      lastSurname: { type: 'string' },
      schoolReference: { type: 'object', properties: { schoolId: { type: 'integer' } } },
      birthData: { $ref: '#/$defs/BirthData' },
      addresses: {
        type: 'array',
        items: {
          type: 'object',
          required: ['addressTypeDescriptor'],
          properties: { addressTypeDescriptor: descriptor, city: { type: 'string' }, postalCode: { type: 'string' } },
        },
      },
    },
    $defs: { BirthData: { type: 'object', properties: { birthCity: { type: 'string' }, birthCountryDescriptor: descriptor } } },
  },
};

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgate-profiles-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** The problems a load reports: a bad definition is reported and kept out of service, not thrown. */
function loadError(files: Record<string, string>): string {
  const { problems } = loadProfiles(dirWith(files), [person]);
  if (!problems.length) throw new Error('the definitions loaded, but they should have been refused');
  return problems.join('\n');
}

const xmlProfile = (body: string, name = 'Mixed') => `<Profiles><Profile name="${name}"><Resource name="Person">${body}</Resource></Profile></Profiles>`;

describe('profile definitions', () => {
  it('reads XML and the JSON form into the same rules', () => {
    const xml = xmlProfile(`
      <ReadContentType memberSelection="IncludeOnly">
        <Property name="FirstName"/>
        <Object name="BirthData" memberSelection="IncludeOnly"><Property name="BirthCity"/></Object>
        <Collection name="Addresses" memberSelection="ExcludeOnly">
          <Property name="PostalCode"/>
          <Filter propertyName="AddressTypeDescriptor" filterMode="IncludeOnly"><Value>Physical</Value></Filter>
        </Collection>
      </ReadContentType>
      <WriteContentType memberSelection="ExcludeOnly"><Property name="LastSurname"/></WriteContentType>`);
    const json = JSON.stringify({
      profiles: [
        {
          name: 'MixedJson',
          resources: [
            {
              name: 'Person',
              readContentType: {
                memberSelection: 'IncludeOnly',
                properties: ['firstName'],
                objects: [{ name: 'birthData', memberSelection: 'IncludeOnly', properties: ['birthCity'] }],
                collections: [
                  {
                    name: 'addresses',
                    memberSelection: 'ExcludeOnly',
                    properties: ['postalCode'],
                    filter: { propertyName: 'addressTypeDescriptor', filterMode: 'IncludeOnly', values: ['Physical'] },
                  },
                ],
              },
              writeContentType: { memberSelection: 'ExcludeOnly', properties: ['lastSurname'] },
            },
          ],
        },
      ],
    });
    const { registry } = loadProfiles(dirWith({ 'mixed.xml': xml, 'mixed.json': json }), [person]);
    const fromXml = registry.rulesFor(registry.find('mixed')!, person)!;
    const fromJson = registry.rulesFor(registry.find('MIXEDJSON')!, person)!;
    const { resource: _a, ...xmlRules } = fromXml;
    const { resource: _b, ...jsonRules } = fromJson;
    expect(xmlRules).toEqual(jsonRules);
    expect([...fromXml.read!.named].sort()).toEqual(['addresses', 'birthData', 'firstName']);
    expect(fromXml.read!.collections.get('addresses')!.filter).toEqual({ propertyName: 'addressTypeDescriptor', mode: 'IncludeOnly', values: ['Physical'] });
    // Files load in name order: mixed.json before mixed.xml.
    expect(registry.mediaTypes(person)).toEqual([
      { profile: 'MixedJson', readable: 'application/vnd.ed-fi.person.mixedjson.readable+json', writable: 'application/vnd.ed-fi.person.mixedjson.writable+json' },
      { profile: 'Mixed', readable: 'application/vnd.ed-fi.person.mixed.readable+json', writable: 'application/vnd.ed-fi.person.mixed.writable+json' },
    ]);
  });

  it('maps references and …USI names to the API members', () => {
    const { registry } = loadProfiles(
      dirWith({ 'p.xml': xmlProfile('<ReadContentType memberSelection="IncludeOnly"><Property name="SchoolReference"/><Property name="PersonUSI"/></ReadContentType>') }),
      [person],
    );
    expect([...registry.rulesFor(registry.find('Mixed')!, person)!.read!.named].sort()).toEqual(['personUniqueId', 'schoolReference']);
  });

  it("names embedded objects and collections by the ODS/API's entity names too, their own or the superclass's", () => {
    const subclass: ResourceMeta = { ...person, superclass: { resourceName: 'Party' } };
    const body = '<ReadContentType memberSelection="IncludeOnly"><Object name="PersonBirthData" memberSelection="IncludeAll"/><Collection name="PartyAddresses" memberSelection="IncludeAll"/></ReadContentType>';
    const { registry, problems } = loadProfiles(dirWith({ 'p.xml': xmlProfile(body) }), [subclass]);
    expect(problems).toEqual([]);
    expect([...registry.rulesFor(registry.find('Mixed')!, subclass)!.read!.named].sort()).toEqual(['addresses', 'birthData']);
    // Another entity's prefix is not this one's, and a plain property goes by its own name only.
    expect(loadError({ 'o.xml': xmlProfile('<ReadContentType memberSelection="IncludeOnly"><Collection name="StaffAddresses" memberSelection="IncludeAll"/></ReadContentType>') })).toMatch(
      /unknown member "StaffAddresses"/,
    );
    expect(loadError({ 'q.xml': xmlProfile('<ReadContentType memberSelection="IncludeOnly"><Property name="PersonFirstName"/></ReadContentType>') })).toMatch(/unknown member "PersonFirstName"/);
  });

  it('names the file, the profile and the member when a member is unknown', () => {
    const message = loadError({ 'bad.xml': xmlProfile('<ReadContentType memberSelection="IncludeOnly"><Property name="FavouriteColour"/></ReadContentType>', 'Lunch') });
    expect(message).toMatch(/bad\.xml: profile "Lunch", resource "Person", ReadContentType: unknown member "FavouriteColour"/);
  });

  it('names nested members inside collections and filters', () => {
    const nested = loadError({
      'n.xml': xmlProfile('<ReadContentType memberSelection="IncludeOnly"><Collection name="Addresses" memberSelection="IncludeOnly"><Property name="Zip"/></Collection></ReadContentType>'),
    });
    expect(nested).toMatch(/n\.xml: profile "Mixed", resource "Person", ReadContentType, Collection "Addresses": unknown member "Zip"/);
    const filter = loadError({
      'f.xml': xmlProfile(
        '<ReadContentType memberSelection="IncludeOnly"><Collection name="Addresses" memberSelection="IncludeAll"><Filter propertyName="Kind" filterMode="IncludeOnly"><Value>x</Value></Filter></Collection></ReadContentType>',
      ),
    });
    expect(filter).toMatch(/f\.xml: profile "Mixed", resource "Person", ReadContentType, Collection "Addresses", Filter: unknown member "Kind"/);
  });

  it('refuses an unknown resource, naming the known ones', () => {
    const message = loadError({ 'r.json': JSON.stringify({ profiles: [{ name: 'P', resources: [{ name: 'Pet', readContentType: { memberSelection: 'IncludeAll' } }] }] }) });
    expect(message).toMatch(/r\.json: profile "P", resource "Pet": unknown resource \(known: Person\)$/);
  });

  it('refuses what would silently widen or break a profile', () => {
    expect(loadError({ 'a.xml': xmlProfile('<ReadContentType memberSelection="IncludeSome"/>') })).toMatch(/memberSelection.*expected one of IncludeOnly, ExcludeOnly, IncludeAll, ExcludeAll, got "IncludeSome"/);
    expect(loadError({ 'b.xml': xmlProfile('<ReadContentType memberSelection="IncludeOnly"><Propety name="FirstName"/></ReadContentType>') })).toMatch(/b\.xml.*unexpected element <Propety>/);
    expect(loadError({ 'c.xml': '<Profiles><Profile name="X">' })).toMatch(/c\.xml: not well-formed XML/);
    expect(loadError({ 'd.json': '{"profiles": [' })).toMatch(/d\.json: not valid JSON/);
    expect(loadError({ 'e.json': JSON.stringify({ profiles: [{ name: 'E', resources: [{ name: 'Person', readContentType: { memberSelection: 'IncludeAll', propertys: [] } }] }] }) })).toMatch(
      /e\.json.*unknown key "propertys"/,
    );
    expect(loadError({ 'f.xml': xmlProfile('<ReadContentType memberSelection="ExcludeOnly"><Property name="PersonUniqueId"/></ReadContentType>') })).toMatch(
      /f\.xml: profile "Mixed", resource "Person", ReadContentType: cannot exclude identity member "personUniqueId"/,
    );
    expect(loadError({ 'g.xml': xmlProfile('<ReadContentType memberSelection="IncludeAll"><Property name="FirstName"/></ReadContentType>') })).toMatch(/IncludeAll lists no members/);
    expect(loadError({ 'h.xml': xmlProfile('<ReadContentType memberSelection="IncludeOnly"><Object name="FirstName" memberSelection="IncludeAll"/></ReadContentType>') })).toMatch(
      /Object "FirstName": "firstName" is not an object member/,
    );
    expect(loadError({ 'i.xml': xmlProfile('<ReadContentType memberSelection="IncludeOnly"><Extension nam="Sample" memberSelection="IncludeAll"/></ReadContentType>') })).toMatch(
      /i\.xml.*<Extension> #1: unexpected attribute nam/,
    );
    expect(loadError({ 'j.xml': xmlProfile('<ReadContentType memberSelection="IncludeAll"/>'), 'k.xml': xmlProfile('<ReadContentType memberSelection="IncludeAll"/>', 'MIXED') })).toMatch(
      /k\.xml: profile "MIXED" is already defined in .*j\.xml/,
    );
    expect(loadError({ 'l.xml': xmlProfile('') })).toMatch(/needs a readContentType, a writeContentType or both/);
  });

  it('keeps the other profiles of a file in service when one is bad, and marks the bad one invalid', () => {
    const xml = `<Profiles>
      <Profile name="Good"><Resource name="Person"><ReadContentType memberSelection="IncludeAll"/></Resource></Profile>
      <Profile name="Bad"><Resource name="Person"><ReadContentType memberSelection="IncludeOnly"><Property name="FavouriteColour"/></ReadContentType></Resource></Profile>
      <Profile name="Pets"><Resource name="Pet"><ReadContentType memberSelection="IncludeAll"/></Resource></Profile>
    </Profiles>`;
    const { registry, problems } = loadProfiles(dirWith({ 'two.xml': xml }), [person]);
    expect(registry.profiles.map((p) => p.name)).toEqual(['Good']);
    expect(registry.invalidProfile('bad')?.problem).toMatch(/two\.xml: profile "Bad", resource "Person", ReadContentType: unknown member "FavouriteColour"/);
    expect(registry.invalidProfile('Pets')).toBeDefined();
    expect(problems).toHaveLength(2);
  });

  it('loads what Ed-Fi\'s own Profiles.xml uses: <Extension>, and IncludeAll refining a collection', () => {
    const { registry, problems } = loadProfiles(
      dirWith({
        'ext.xml': xmlProfile(
          '<ReadContentType memberSelection="IncludeOnly"><Property name="FirstName"/><Extension name="Sample" memberSelection="IncludeOnly"><Property name="PetPreference"/></Extension></ReadContentType>',
          'WithExtension',
        ),
        'all.xml': xmlProfile(
          '<ReadContentType memberSelection="IncludeAll"><Collection name="Addresses" memberSelection="IncludeAll"><Filter propertyName="AddressTypeDescriptor" filterMode="IncludeOnly"><Value>Physical</Value></Filter></Collection></ReadContentType>',
          'AllButFiltered',
        ),
      }),
      [person],
    );
    expect(problems).toEqual([]);
    expect(registry.profiles.map((p) => p.name).sort()).toEqual(['AllButFiltered', 'WithExtension']);
  });

  it('refuses a profilesDir that does not exist', () => {
    expect(() => loadProfiles('/nonexistent/edgate-profiles', [person])).toThrow(/profilesDir \/nonexistent\/edgate-profiles .* is not a directory/);
  });
});

/**
 * Shaping of members the real resources do not have (a nested object with several members, item
 * members inside a collection), through the policy the routes use; HTTP tests cover the rest.
 */
describe('profile shaping of nested members', () => {
  const nestedXml = xmlProfile(
    `<ReadContentType memberSelection="IncludeOnly">
       <Object name="BirthData" memberSelection="ExcludeOnly"><Property name="BirthCountryDescriptor"/></Object>
       <Collection name="Addresses" memberSelection="ExcludeOnly">
         <Property name="PostalCode"/>
         <Filter propertyName="AddressTypeDescriptor" filterMode="ExcludeOnly"><Value>Temporary</Value></Filter>
       </Collection>
     </ReadContentType>
     <WriteContentType memberSelection="IncludeOnly">
       <Property name="FirstName"/>
       <Collection name="Addresses" memberSelection="IncludeOnly"><Property name="AddressTypeDescriptor"/><Property name="City"/></Collection>
     </WriteContentType>`,
    'Nested',
  );
  const client = { profiles: ['nested'] } as ClientRecord;
  const type = (usage: string) => `application/vnd.ed-fi.person.nested.${usage}+json`;
  const address = (kind: string, city: string, postalCode: string) => ({ addressTypeDescriptor: `uri://ed-fi.org/AddressTypeDescriptor#${kind}`, city, postalCode });
  const stored = {
    personUniqueId: 'P1',
    firstName: 'Ada',
    lastSurname: 'Lovelace',
    birthData: { birthCity: 'London', birthCountryDescriptor: 'uri://ed-fi.org/CountryDescriptor#GB' },
    addresses: [address('Home', 'London', 'W1'), address('Temporary', 'Paris', '75001')],
  };

  it('applies nested member selection and ExcludeOnly item filters on read', () => {
    const { registry } = loadProfiles(dirWith({ 'nested.xml': nestedXml }), [person]);
    const read = profilePolicy(registry).forRead({ accept: type('readable'), resource: person, client });
    expect(read.shape({ id: 'x', ...stored })).toEqual({
      id: 'x',
      personUniqueId: 'P1',
      birthData: { birthCity: 'London' },
      addresses: [{ addressTypeDescriptor: 'uri://ed-fi.org/AddressTypeDescriptor#Home', city: 'London' }],
    });
  });

  it('pairs written collection items with stored ones on their key, keeping members the client cannot write', () => {
    const { registry } = loadProfiles(dirWith({ 'nested.xml': nestedXml }), [person]);
    const write = profilePolicy(registry).forWrite({ contentType: `${type('writable')}; charset=utf-8`, resource: person, client });
    const incoming = { personUniqueId: 'P1', firstName: 'Augusta', lastSurname: 'Byron', addresses: [{ addressTypeDescriptor: 'uri://ed-fi.org/AddressTypeDescriptor#Home', city: 'Bath' }] };
    expect(write.filter(incoming, stored)).toEqual({
      personUniqueId: 'P1',
      firstName: 'Augusta',
      lastSurname: 'Lovelace',
      birthData: stored.birthData,
      addresses: [address('Home', 'Bath', 'W1')],
    });
  });

  it('refuses to create when the writable content type withholds a required member', () => {
    const noFirstName = xmlProfile('<WriteContentType memberSelection="ExcludeOnly"><Property name="FirstName"/></WriteContentType>', 'Nested');
    const { registry } = loadProfiles(dirWith({ 'nested.xml': noFirstName }), [person]);
    const write = profilePolicy(registry).forWrite({ contentType: type('writable'), resource: person, client });
    expect(() => write.filter({ personUniqueId: 'P2', firstName: 'X' })).toThrow(ApiError);
    expect(write.filter({ personUniqueId: 'P1', firstName: 'X', lastSurname: 'Y' }, stored)).toMatchObject({ firstName: 'Ada', lastSurname: 'Y' });
  });

  it('refuses to create a collection item whose required members the profile withholds, on POST and on PUT', () => {
    const noKind = xmlProfile(
      '<WriteContentType memberSelection="IncludeAll"><Collection name="PersonAddresses" memberSelection="ExcludeOnly"><Property name="AddressTypeDescriptor"/></Collection></WriteContentType>',
      'Nested',
    );
    const { registry } = loadProfiles(dirWith({ 'nested.xml': noKind }), [person]);
    const write = profilePolicy(registry).forWrite({ contentType: type('writable'), resource: person, client });
    const refusal = (body: Record<string, unknown>, before?: Record<string, unknown>) => {
      try {
        write.filter(body, before);
      } catch (err) {
        return err;
      }
      throw new Error('the write was let through');
    };
    const withAddress = { personUniqueId: 'P1', firstName: 'Ada', addresses: [{ city: 'Bath' }] };
    for (const before of [undefined, stored]) {
      expect(refusal(withAddress, before)).toMatchObject({
        code: 'data_policy_enforced',
        extra: { errors: [expect.stringContaining("needed to create a child item of type 'PersonAddress' in the resource."), expect.stringContaining('$.addresses[0]')] },
      });
    }
    // No item to create: the write goes through.
    expect(write.filter({ personUniqueId: 'P1', firstName: 'Ada' }, stored)).toEqual({ personUniqueId: 'P1', firstName: 'Ada' });
  });
});
