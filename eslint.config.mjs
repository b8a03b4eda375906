// `npm run lint`: type-aware TypeScript rules, and the import boundaries of the layout
// (core never imports express or an app; apps never import each other; no import cycles).
import js from '@eslint/js';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** Imports a folder may not make, as `no-restricted-imports` patterns. */
const boundary = (patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'functions/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      // One program for sources and tests (tsconfig.test.json includes both).
      parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    // Relative imports name .ts files without their extension; @invoq/core resolves to its source.
    settings: {
      // import-x reads each imported .ts file itself to follow cycles: it needs the TS parser.
      'import-x/extensions': ['.ts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.mjs'], alias: { '@invoq/core': ['./packages/core/src/index.ts'] } })],
    },
    rules: {
      // Type-aware: a promise nobody awaits or catches is how an event gets lost.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // `import x = require()` is how a module's live exports object is reached (thread-guards).
      '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }],
      'import-x/no-cycle': 'error',
      'import-x/no-self-import': 'error',
    },
  },
  {
    files: ['packages/core/src/**/*.ts'],
    rules: boundary([
      { group: ['express', 'express/*'], message: 'core never imports express: HTTP belongs to apps/api.' },
      { group: ['**/apps/*', '**/apps/**'], message: 'core never imports an app.' },
    ]),
  },
  {
    files: ['apps/api/src/**/*.ts'],
    rules: boundary([{ group: ['**/apps/worker/**', '../../worker/**'], message: 'apps never import each other: share through core.' }]),
  },
  {
    files: ['apps/worker/src/**/*.ts'],
    rules: boundary([
      { group: ['**/apps/api/**', '../../api/**'], message: 'apps never import each other: share through core.' },
      { group: ['express', 'express/*'], message: 'the worker serves no express app.' },
    ]),
  },
  {
    // Tests may reach into the apps they exercise and into core's internals.
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        performance: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        Buffer: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        __dirname: 'readonly',
        module: 'writable',
        require: 'readonly',
        queueMicrotask: 'readonly',
        setImmediate: 'readonly',
        structuredClone: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
