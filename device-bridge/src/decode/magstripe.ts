/**
 * Magnetic stripes in the ISO/IEC 7813 layouts, as a reader delivers them
 * (typed as keys, or in a vendor report):
 *
 * - track 1, format B: `%B` PAN `^` NAME `^` YYMM service-code discretionary `?`
 *   (at most 79 characters, 6-bit alphanumeric: space to `_`);
 * - track 2: `;` PAN `=` YYMM service-code discretionary `?` (at most 40
 *   characters, digits and `=` between the sentinels).
 *
 * A swipe may carry both tracks (`%…?;…?`), and readers type `%E?` or `;E?`
 * for a track they could not read. A swipe is accepted when every track in it
 * parses, at least one is readable, both agree on the PAN and expiry when
 * present, and the PAN passes the Luhn check (unless disabled for a
 * non-ISO card scheme). Anything else (a half swipe, a track without
 * sentinels, stray characters) is rejected with the reason.
 *
 * @module
 */
import { luhnValid } from './luhn.ts'

export interface Track {
  pan: string
  /** Track 1 only: "GIVEN SURNAME" from "SURNAME/GIVEN". */
  name?: string
  /** `YYYY-MM`, when the track carries one. */
  expiry?: string
}

export interface Swipe extends Track {
  /** Which tracks were read. */
  tracks: (1 | 2)[]
}

export type SwipeResult = { ok: true; swipe: Swipe } | { ok: false; reason: string }
type TrackResult = { ok: true; track: Track } | { ok: false; reason: string }

const track1LengthMax = 79
const track2LengthMax = 40
const panPattern = /^\d{8,19}$/

/**
 * Parses what one swipe produced.
 *
 * @example
 *   parseSwipe(';4111111111111111=27121010000000000000?', { luhn: true })
 *   // { ok: true, swipe: { pan: '4111111111111111', expiry: '2027-12', tracks: [2] } }
 */
export function parseSwipe(text: string, options: { luhn: boolean }): SwipeResult {
  const segments = splitTracks(text)
  if (!Array.isArray(segments)) return segments
  const read: { number: 1 | 2; track: Track }[] = []
  for (const segment of segments) {
    if (segment === '%E?' || segment === ';E?') continue
    const number = segment.startsWith('%') ? 1 : 2
    const parsed = number === 1 ? parseTrack1(segment) : parseTrack2(segment)
    if (!parsed.ok) return parsed
    read.push({ number, track: parsed.track })
  }
  if (read.length === 0) {
    return { ok: false, reason: 'the reader reported a bad swipe on every track (E)' }
  }
  const swipe = mergeTracks(read)
  if (!swipe.ok) return swipe
  if (options.luhn && !luhnValid(swipe.swipe.pan)) {
    return { ok: false, reason: 'the card number fails the Luhn check' }
  }
  return swipe
}

/** Cuts a swipe into `%…?` and `;…?` segments; any character outside one is garbage. */
function splitTracks(text: string): string[] | { ok: false; reason: string } {
  const segments: string[] = []
  let at = 0
  while (at < text.length) {
    const start = text[at]
    if (start !== '%' && start !== ';') {
      return {
        ok: false,
        reason: `a track must start with its sentinel (% or ;), found "${printable(start!)}"`,
      }
    }
    const end = text.indexOf('?', at + 1)
    if (end < 0) {
      return {
        ok: false,
        reason: `track ${start === '%' ? 1 : 2} has no end sentinel (?): half a swipe`,
      }
    }
    segments.push(text.slice(at, end + 1))
    at = end + 1
  }
  if (segments.length === 0) return { ok: false, reason: 'no track data' }
  if (segments.length > 2) {
    return {
      ok: false,
      reason: `${segments.length} tracks in one swipe; expected track 1 and/or 2`,
    }
  }
  return segments
}

/** Parses `%B…^…^…?`. */
export function parseTrack1(segment: string): TrackResult {
  if (segment.length > track1LengthMax) {
    return { ok: false, reason: `track 1 is longer than ${track1LengthMax} characters` }
  }
  if (!/^%[\x20-\x5f]*\?$/.test(segment)) {
    return { ok: false, reason: 'track 1 has characters outside its 6-bit alphabet' }
  }
  if (segment[1] !== 'B') return { ok: false, reason: 'track 1 is not format B (ISO/IEC 7813)' }
  const fields = segment.slice(2, -1).split('^')
  if (fields.length < 3) return { ok: false, reason: 'track 1 needs PAN ^ NAME ^ data' }
  const [pan, rawName] = fields as [string, string]
  if (!panPattern.test(pan)) {
    return { ok: false, reason: 'track 1 has no valid card number (8 to 19 digits)' }
  }
  const name = rawName.trim()
  if (rawName.length < 2 || rawName.length > 26) {
    return { ok: false, reason: 'track 1 name must have 2 to 26 characters' }
  }
  // No expiry is written as a field separator in its place (PAN^NAME^^...).
  const rest = fields.slice(2).join('^')
  const expiry = rest.startsWith('^') ? undefined : parseExpiry(rest.slice(0, 4))
  if (expiry === null) return { ok: false, reason: 'track 1 expiry is not a valid YYMM' }
  const track: Track = { pan }
  if (name !== '') track.name = displayName(name)
  if (expiry !== undefined) track.expiry = expiry
  return { ok: true, track }
}

/** Parses `;PAN=YYMM…?`. */
export function parseTrack2(segment: string): TrackResult {
  if (segment.length > track2LengthMax) {
    return { ok: false, reason: `track 2 is longer than ${track2LengthMax} characters` }
  }
  const match = /^;(\d+)=([\d=]*)\?$/.exec(segment)
  if (match === null) return { ok: false, reason: 'track 2 must be ;PAN=YYMM...? in digits' }
  const pan = match[1]!
  if (!panPattern.test(pan)) {
    return { ok: false, reason: 'track 2 has no valid card number (8 to 19 digits)' }
  }
  // No expiry is written as a field separator in its place (PAN==...).
  const rest = match[2]!
  const expiry = rest.startsWith('=') ? undefined : parseExpiry(rest.slice(0, 4))
  if (expiry === null) return { ok: false, reason: 'track 2 expiry is not a valid YYMM' }
  return { ok: true, track: expiry === undefined ? { pan } : { pan, expiry } }
}

function mergeTracks(read: { number: 1 | 2; track: Track }[]): SwipeResult {
  const tracks = read.map((r) => r.number)
  if (new Set(tracks).size !== tracks.length) {
    return { ok: false, reason: 'the same track twice in one swipe' }
  }
  const [first, second] = read
  if (second !== undefined) {
    if (first!.track.pan !== second.track.pan) {
      return { ok: false, reason: 'tracks 1 and 2 carry different card numbers' }
    }
    const a = first!.track.expiry
    const b = second.track.expiry
    if (a !== undefined && b !== undefined && a !== b) {
      return { ok: false, reason: 'tracks 1 and 2 carry different expiry dates' }
    }
  }
  const merged: Swipe = { pan: first!.track.pan, tracks }
  const name = read.find((r) => r.track.name !== undefined)?.track.name
  const expiry = read.find((r) => r.track.expiry !== undefined)?.track.expiry
  if (name !== undefined) merged.name = name
  if (expiry !== undefined) merged.expiry = expiry
  return { ok: true, swipe: merged }
}

/** `YYMM` → `YYYY-MM` (20YY), or null when it is not a date. */
function parseExpiry(text: string): string | null {
  const match = /^(\d{2})(0[1-9]|1[0-2])$/.exec(text)
  return match === null ? null : `20${match[1]}-${match[2]}`
}

/** "LOVELACE/ADA" → "ADA LOVELACE"; a name without "/" stays as written. */
function displayName(name: string): string {
  const slash = name.indexOf('/')
  if (slash < 0) return name
  const surname = name.slice(0, slash).trim()
  const given = name.slice(slash + 1).trim()
  return given === '' ? surname : `${given} ${surname}`
}

function printable(character: string): string {
  const code = character.charCodeAt(0)
  return code >= 0x20 && code < 0x7f ? character : `\\x${code.toString(16).padStart(2, '0')}`
}
