/** The ODS/API's class names are the model's PascalCase names; JSON members are camelCase. */
export const upperFirst = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

/** A collection's item class from its plural name, as the ODS/API names it: Addresses → Address, Categories → Category. */
export function singular(plural: string): string {
  const rules = [
    [/ies$/, 'y'],
    [/(ss|x|ch|sh)es$/, '$1'],
    [/s$/, ''],
  ] as const;
  const [ending, replacement] = rules.find(([rule]) => rule.test(plural)) ?? [/$/, ''];
  return plural.replace(ending, replacement);
}
