/**
 * A form's state: field texts, each field's error (from the form's own checks
 * or placed from the server's refusal by its `field`), an error for the form
 * as a whole, and whether it is being sent. Every console form uses it, so
 * they all validate and show the server's errors the same way.
 *
 * @module
 */
import { batch, createSignal } from 'solid-js'
import { createStore, reconcile } from 'solid-js/store'
import { placeError, validateFields, type Checks, type FieldErrors } from '../lib/validate.ts'

export interface FormOptions<F extends string> {
  initial: Record<F, string>
  checks?: Checks<F>
  /** Sends the form; a rejection is shown next to its field or above the form. */
  submit: (values: Record<F, string>) => Promise<void>
}

export function createForm<F extends string>(options: FormOptions<F>) {
  const fields = Object.keys(options.initial) as F[]
  const [values, setValues] = createStore<Record<F, string>>({ ...options.initial })
  const [errors, setErrors] = createStore<FieldErrors<F>>({})
  const [formError, setFormError] = createSignal<string>()
  const [pending, setPending] = createSignal(false)

  const form = {
    values,
    formError,
    pending,
    error: (field: F): string | undefined => errors[field],
    set(field: F, value: string) {
      batch(() => {
        setValues(field as never, value as never)
        setErrors(field as never, undefined as never)
      })
    },
    reset(next: Partial<Record<F, string>> = {}) {
      batch(() => {
        setValues(reconcile({ ...options.initial, ...next }))
        setErrors(reconcile({}))
        setFormError(undefined)
      })
    },
    async submit(event?: Event) {
      event?.preventDefault()
      if (pending()) return
      const snapshot = { ...values }
      const found = validateFields(snapshot, options.checks ?? {})
      setErrors(reconcile(found))
      setFormError(undefined)
      if (Object.keys(found).length > 0) return
      setPending(true)
      try {
        await options.submit(snapshot)
      } catch (error) {
        const placed = placeError(error, fields)
        if (placed.field === undefined) setFormError(placed.message)
        else setErrors(placed.field as never, placed.message as never)
      } finally {
        setPending(false)
      }
    },
  }
  return form
}

export type Form<F extends string> = ReturnType<typeof createForm<F>>
