// Lint: type-aware rules (no floating promises) and the one-way dependency
// direction: flows → producer → (Redis) → workers → monitoring/dashboard.
// flows/ and common/ import nothing local; nothing but the entry points
// (cli/, bench/, test/) imports producer/ or workers/.
import tseslint from 'typescript-eslint';

const local = (...dirs) => dirs.flatMap((d) => [`../${d}/*`, `../../${d}/*`, `../../../${d}/*`]);
const restrict = (files, dirs, why) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', { patterns: [{ group: local(...dirs), message: why }] }],
  },
});

export default tseslint.config(
  { ignores: ['node_modules/**', 'test-results/**', 'scratch/**', 'bin/**', '*.config.*', 'test/run.js'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ImportExpression[source.value=/^\\.\\.?\\//]', message: 'no dynamic local imports' }],
    },
  },
  restrict(['flows/**'], ['common', 'producer', 'workers', 'monitoring', 'dashboard', 'cli'], 'flows/ imports nothing local: definitions stay pure'),
  restrict(['common/**'], ['flows', 'producer', 'workers', 'monitoring', 'dashboard', 'cli'], 'common/ is plumbing: it imports nothing local'),
  restrict(['producer/**'], ['workers', 'monitoring', 'dashboard', 'cli'], 'producer/ must not import workers/ or the layers after it'),
  restrict(['workers/**'], ['producer', 'monitoring', 'dashboard', 'cli'], 'workers/ must not import producer/ or the layers after it'),
  restrict(['monitoring/**', 'dashboard/**'], ['producer', 'workers', 'cli'], 'monitoring/ and dashboard/ read Redis and events; they never import producer/ or workers/'),
);
