// @ts-check
import effect from "@effect/eslint-plugin"
import js from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "node_modules/**",
      "coverage/**",
      "docs/api/**",
      "bench/results/**",
      ".examples/**",
      ".scratch/**"
    ]
  },
  js.configs.recommended,
  ...tseslint.configs.strict,
  ...effect.configs.dprint,
  {
    languageOptions: { parserOptions: { sourceType: "module" } },
    rules: {
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-non-null-assertion": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-namespace": "off",
      "@typescript-eslint/no-empty-object-type": "off",
      // names are checked for control characters on purpose
      "no-control-regex": "off",
      "no-restricted-syntax": ["error", {
        selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
        message: "use Clock"
      }, {
        selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
        message: "use Random"
      }]
    }
  },
  {
    files: ["src/**/*.ts"],
    ignores: ["src/node/**", "src/bin/**"],
    rules: {
      "no-restricted-globals": ["error", "setTimeout", "setInterval", "console", "process"],
      "no-restricted-imports": ["error", {
        patterns: ["node:*", "@effect/platform-node", "@effect/platform-node/*", "undici", "undici/*"]
      }]
    }
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts", "bench/**/*.js", "bench/**/*.mjs", "src/bin/**", "src/node/**"],
    rules: { "no-restricted-syntax": "off" }
  },
  {
    // plain-node scripts (the start-up benchmark runs without TypeScript)
    files: ["**/*.mjs"],
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        performance: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        Buffer: "readonly"
      }
    }
  }
)
