/**
 * The README is the front door (under 200 lines), and every relative link in it and in docs/
 * leads to a file inside the repository, and to a heading of that file when it names one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../support/harness';

const pages = [
  'README.md',
  'CONTRIBUTING.md',
  ...fs
    .readdirSync(path.join(REPO_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The Markdown with fenced code blocks and inline code taken out. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's anchors of a page's headings. */
function anchorsOf(markdown: string): Set<string> {
  const slugs = new Set<string>();
  for (const [, heading] of markdown.replace(/^```[\s\S]*?^```$/gm, '').matchAll(/^#{1,6} (.+)$/gm)) {
    slugs.add(
      heading!
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    );
  }
  return slugs;
}

/** Every link target of a page: [text](target) and ![alt](target). */
function linksOf(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

it('README.md is under 200 lines', () => {
  const lines = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8').split('\n').length;
  expect(lines).toBeLessThan(200);
});

it.each(pages)('every relative link in %s resolves inside the repository', (page) => {
  const file = path.join(REPO_ROOT, page);
  const links = linksOf(fs.readFileSync(file, 'utf8'));
  const broken: string[] = [];
  for (const link of links) {
    if (/^[a-z][a-z+.-]*:/i.test(link)) continue; // http:, mailto: …: not a file of ours
    const [target, anchor] = link.split('#') as [string, string | undefined];
    const resolved = target === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(target));
    if (path.relative(REPO_ROOT, resolved).startsWith('..')) broken.push(`${link}: outside the repository`);
    else if (!fs.existsSync(resolved)) broken.push(`${link}: no such file`);
    else if (anchor && resolved.endsWith('.md') && !anchorsOf(fs.readFileSync(resolved, 'utf8')).has(anchor)) broken.push(`${link}: no such heading`);
  }
  expect(broken).toEqual([]);
});

it('the checks catch a broken link and a missing heading', () => {
  expect(anchorsOf('## Crashes, restarts and what "202" promises\n')).toEqual(new Set(['crashes-restarts-and-what-202-promises']));
  expect(linksOf('see [a](docs/a.md#x) and `[b](c)` and ![d](e.png)')).toEqual(['docs/a.md#x', 'e.png']);
});

it('no page points at the workspace outside the repository or labels a figure with a tracker number', () => {
  for (const page of pages) {
    const text = fs.readFileSync(path.join(REPO_ROOT, page), 'utf8');
    expect({ page, outside: /\.\.\/shared|\/work\//.test(text), issue: /\bissues? #?\d+/i.test(text) }).toEqual({ page, outside: false, issue: false });
  }
});
