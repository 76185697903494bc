/**
 * Reads a class filter as users write it: `all`, ids (`0,2`), names (`person, car`) or a mix.
 * Returns null for all classes.
 */
export function parseClassList(text: string | readonly (string | number)[], classNames: readonly string[]): Set<number> | null {
  const items = typeof text === 'string' ? text.split(',') : text.map(String);
  const trimmed = items.map((item) => item.trim()).filter((item) => item !== '');
  if (trimmed.length === 0 || trimmed.some((item) => item.toLowerCase() === 'all')) return null;
  const ids = new Set<number>();
  for (const item of trimmed) {
    if (/^\d+$/.test(item)) {
      const id = Number(item);
      if (id >= classNames.length) throw new Error(`class ${id} does not exist: the model has ${classNames.length} classes (0-${classNames.length - 1})`);
      ids.add(id);
      continue;
    }
    const id = classNames.findIndex((name) => name.toLowerCase() === item.toLowerCase());
    if (id < 0) throw new Error(`unknown class "${item}": use a class id or one of the model's names (${classNames.slice(0, 5).join(', ')}, …)`);
    ids.add(id);
  }
  return ids;
}
