/** The New member form: its checks before sending, and the body it sends. */
import { describe, expect, it } from 'vitest'
import { emptyNewMember, newMemberBody, newMemberChecks } from './new-member.ts'
import { validateFields } from './validate.ts'

describe('new member checks', () => {
  it('asks for an id and a program, and nothing else', () => {
    expect(validateFields(emptyNewMember(), newMemberChecks)).toEqual({
      id: 'A member id is required',
      program: 'A program is required',
    })
    expect(validateFields({ ...emptyNewMember('demo'), id: 'm-1' }, newMemberChecks)).toEqual({})
  })

  it('catches the obvious format mistakes', () => {
    const values = {
      ...emptyNewMember('demo'),
      id: 'no spaces please',
      email: 'ada.example.com',
      phone: '0301234',
      birthDate: '1.2.1990',
      country: 'Germany',
      cards: '4000-1234 ??',
    }
    expect(validateFields(values, newMemberChecks)).toEqual({
      id: 'Letters, digits and . _ : @ - only (at most 64)',
      email: 'Enter an email address',
      phone: 'International form: + and 6 to 15 digits, e.g. +4930123456',
      birthDate: 'Use YYYY-MM-DD',
      country: 'Two capital letters, e.g. DE',
      cards: 'Letters, digits and . _ : @ - only (at most 64)',
    })
  })

  it('takes a country in lower case and a card number with spaces, as they are sent', () => {
    const values = { ...emptyNewMember('demo'), id: 'm-1', country: 'de', cards: '4000 1234 1234 1234' }
    expect(validateFields(values, newMemberChecks)).toEqual({})
  })
})

describe('new member body', () => {
  it('sends the id and program, the consents, and only the fields filled in', () => {
    expect(newMemberBody({ ...emptyNewMember('demo'), id: ' m-1 ' })).toEqual({
      id: 'm-1',
      program: 'demo',
      consents: { email: false, sms: false, push: false },
    })
  })

  it('trims the profile, capitalises the country and issues the card without spaces', () => {
    const values = {
      ...emptyNewMember('demo'),
      id: 'm-2', firstName: ' Ada ', lastName: 'Lovelace', email: 'ada@example.com', phone: '+441632960001',
      birthDate: '1985-12-10', country: 'gb', cards: '4000 1234 1234 1234', consentEmail: 'yes', consentPush: 'yes',
    }
    expect(newMemberBody(values)).toEqual({
      id: 'm-2', program: 'demo', firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com',
      phone: '+441632960001', birthDate: '1985-12-10', country: 'GB',
      cards: [{ type: 'card', value: '4000123412341234' }],
      consents: { email: true, sms: false, push: true },
    })
  })
})
