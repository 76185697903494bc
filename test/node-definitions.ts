import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as acorn from 'acorn';
import * as walk from 'acorn-walk';
import { ROOT } from './support';

export interface NodeDefinition {
  type: string;
  /** The module that registers it. */
  module: string;
  category?: unknown;
  /** The properties the editor gives every node of this type. */
  defaults: string[];
  /** icon, color, inputs, outputs, category or defaults written as something other than a literal. */
  notInline: string[];
}

/** The node definitions of an editor .html file, read the way Node-RED's validator reads them (acorn over each script). */
export function definitionsIn(htmlFile: string, module: string): NodeDefinition[] {
  const html = readFileSync(htmlFile, 'utf8');
  const definitions: NodeDefinition[] = [];
  for (const [, script] of html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/gi)) {
    walk.simple(acorn.parse(script, { ecmaVersion: 'latest' }), {
      CallExpression(call) {
        const callee = call.callee;
        if (callee.type !== 'MemberExpression' || callee.property.type !== 'Identifier' || callee.property.name !== 'registerType') return;
        const [type, definition] = call.arguments;
        if (type?.type !== 'Literal' || definition?.type !== 'ObjectExpression') return;
        const found: NodeDefinition = { type: String(type.value), module, defaults: [], notInline: [] };
        for (const property of definition.properties) {
          if (property.type !== 'Property' || property.key.type !== 'Identifier') continue;
          const key = property.key.name;
          if (['icon', 'color', 'inputs', 'outputs', 'category'].includes(key)) {
            if (property.value.type !== 'Literal') found.notInline.push(key);
            else if (key === 'category') found.category = property.value.value;
          }
          if (key === 'defaults') {
            if (property.value.type !== 'ObjectExpression') found.notInline.push(key);
            else {
              for (const entry of property.value.properties) {
                if (entry.type === 'Property' && (entry.key.type === 'Identifier' || entry.key.type === 'Literal')) {
                  found.defaults.push(String(entry.key.type === 'Identifier' ? entry.key.name : entry.key.value));
                }
              }
            }
          }
        }
        definitions.push(found);
      },
    });
  }
  return definitions;
}

type Manifest = { name: string; 'node-red'?: { nodes?: Record<string, string> } };

/** Our node definitions, from the .html next to each node's compiled .js (as the validator finds them). */
export function ourDefinitions(): NodeDefinition[] {
  const pkg: Manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  return Object.values(pkg['node-red']!.nodes!).flatMap((js) => definitionsIn(path.join(ROOT, js.replace(/\.js$/, '.html')), pkg.name));
}

/** The node definitions of Node-RED's core nodes and of every other Node-RED module in node_modules. */
export function installedDefinitions(): NodeDefinition[] {
  const definitions: NodeDefinition[] = [];
  const core = path.join(ROOT, 'node_modules', '@node-red', 'nodes', 'core');
  for (const file of readdirSync(core, { recursive: true }) as string[]) {
    if (file.endsWith('.html')) definitions.push(...definitionsIn(path.join(core, file), 'node-red'));
  }
  const scan = (dir: string) => {
    for (const entry of existsSync(dir) ? readdirSync(dir) : []) {
      if (entry.startsWith('@')) {
        scan(path.join(dir, entry));
        continue;
      }
      const manifestFile = path.join(dir, entry, 'package.json');
      if (!existsSync(manifestFile)) continue;
      const manifest: Manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
      for (const js of Object.values(manifest['node-red']?.nodes ?? {})) {
        const html = path.join(dir, entry, js.replace(/\.js$/, '.html'));
        if (existsSync(html)) definitions.push(...definitionsIn(html, manifest.name));
      }
    }
  };
  scan(path.join(ROOT, 'node_modules'));
  return definitions;
}
