/**
 * Programs and rules on their own (no storage, no threads): the ruleset
 * document types, its validation, compilation and evaluation, for tools,
 * benchmarks and the console's previews.
 *
 * @module
 */
export * from './types.ts'
export { validateRuleset, rulesetSizeError, rulesetBytesMax, type RulesetError, type RulesetValidation } from './validate.ts'
export { compileRuleset, type CompiledProgram, type CompiledRuleset } from './compile.ts'
export { evaluatePurchase, evaluateActivity, type Evaluation, type MemberContext } from './evaluate.ts'
export { expiryOf } from './calendar.ts'
export { demoRuleset } from './demo.ts'
