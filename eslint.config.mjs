// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'dist.*/', 'node_modules/', 'coverage/', 'demo/reports/'] },
  js.configs.recommended,
  {
    files: ['src/**/*.ts', '__tests__/**/*.ts'],
    extends: [...tseslint.configs.strictTypeChecked],
    languageOptions: { parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Fire-and-forget promises are where bugs hide.
      '@typescript-eslint/no-floating-promises': 'error',
      // `http.createServer(app.callback())` is how Koa is served; Koa handles the promise itself.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // Options are checked at run time for JavaScript callers, which the types alone cannot promise.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-unnecessary-boolean-literal-compare': 'off',
      // Store methods are async by contract even where the memory store needs no await.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unnecessary-type-parameters': 'off',
      // With noUncheckedIndexedAccess, `x[i]!` after a bounds check is the honest way to say what is known.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='ctx'][property.name='query']",
          message: 'Koa builds ctx.query in quadratic time: read parameters with queryValues() (middleware/query.ts).',
        },
      ],
    },
  },
  {
    // Browser code, checked against the DOM rather than node.
    files: ['src/client/**/*.ts', 'src/react/**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.client.json', tsconfigRootDir: import.meta.dirname } },
  },
  {
    // Tests whose callbacks run in the browser (page.evaluate), and the type tests of the client, see the DOM too.
    files: ['__tests__/e2e/browser/**/*.ts', '__tests__/types/**/*.ts'],
    languageOptions: {
      parserOptions: { project: './tsconfig.browser-tests.json', tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    files: ['__tests__/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-empty-function': 'off',
      '@typescript-eslint/only-throw-error': 'off',
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['**/*.js'],
    ignores: ['demo/public/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly' },
    },
  },
  {
    files: ['**/*.mjs', 'demo/public/*.js'],
    languageOptions: {
      globals: {
        console: 'readonly',
        FormData: 'readonly',
        URLSearchParams: 'readonly',
        Intl: 'readonly',
        process: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        document: 'readonly',
        window: 'readonly',
        EventSource: 'readonly',
        fetch: 'readonly',
        sessionStorage: 'readonly',
        location: 'readonly',
        history: 'readonly',
        AbortController: 'readonly',
        DOMException: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        performance: 'readonly',
        crypto: 'readonly',
        Uint8Array: 'readonly',
      },
    },
  },
);
