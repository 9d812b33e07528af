/**
 * The "New member" form's fields, checks and request: its texts become the
 * body of `POST /v1/members`, with empty fields left out (the registry takes
 * a member with only an id and a program) and the card number as the
 * member's one card. The registry checks the formats too and names the field
 * it refuses, which the form shows under that field (`cards[0].value` under
 * the card number).
 *
 * @module
 */
import type { NewMember } from './types.ts'
import {
  countryCode,
  emailAddress,
  identifier,
  isoDate,
  maxLength,
  phoneNumber,
  required,
  type Checks,
} from './validate.ts'

export type NewMemberField =
  | 'id'
  | 'program'
  | 'firstName'
  | 'lastName'
  | 'email'
  | 'phone'
  | 'birthDate'
  | 'country'
  | 'cards'
  | 'consentEmail'
  | 'consentSms'
  | 'consentPush'

/** The form's texts; a consent is `yes` when ticked. */
export type NewMemberValues = Record<NewMemberField, string>

export function emptyNewMember(program = ''): NewMemberValues {
  return {
    id: '', program, firstName: '', lastName: '', email: '', phone: '', birthDate: '', country: '',
    cards: '', consentEmail: '', consentSms: '', consentPush: '',
  }
}

export const newMemberChecks: Checks<NewMemberField> = {
  id: [required('A member id'), identifier],
  program: [required('A program')],
  firstName: [maxLength(100)],
  lastName: [maxLength(100)],
  email: [emailAddress],
  phone: [phoneNumber],
  birthDate: [isoDate],
  // Sent in capitals and without spaces: checked as sent.
  country: [(text) => countryCode(text.toUpperCase())],
  cards: [(text) => identifier(text.replace(/\s+/g, ''))],
}

const profileFields = ['firstName', 'lastName', 'email', 'phone', 'birthDate', 'country'] as const

/** The request body: trimmed texts, empty ones left out, spaces taken out of the card number. */
export function newMemberBody(values: NewMemberValues): NewMember {
  const body: NewMember = { id: values.id.trim(), program: values.program.trim() }
  for (const field of profileFields) {
    const text = values[field].trim()
    if (text !== '') body[field] = field === 'country' ? text.toUpperCase() : text
  }
  const card = values.cards.replace(/\s+/g, '')
  if (card !== '') body.cards = [{ type: 'card', value: card }]
  body.consents = {
    email: values.consentEmail === 'yes',
    sms: values.consentSms === 'yes',
    push: values.consentPush === 'yes',
  }
  return body
}
