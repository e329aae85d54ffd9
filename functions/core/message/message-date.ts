/**
 * The Date header, parsed here rather than trusted to a library: RFC 5322 s.3.3 with the obsolete
 * forms of s.4.3, plus the common junk real mailers write. An unparseable date is null, never the
 * current time.
 */
import { bound } from './bounded-text.js';
import { MAX_DATE_HEADER_LENGTH } from './message-limits.js';

const MONTHS = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];
const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

/** An abbreviation of at least three letters ("Sep", "Sept", "September"). */
function nameIndex(names: readonly string[], word: string): number {
  return word.length < 3 ? -1 : names.findIndex((name) => name.startsWith(word));
}

/**
 * Zone names, in minutes east of UTC. The first block is RFC 5322's obs-zone; the rest are names
 * mailers write although no RFC allows them, limited to those with one common meaning (IST, for one,
 * is India, Ireland or Israel, and is treated like any unknown name).
 */
const ZONES: Record<string, number> = {
  ut: 0,
  gmt: 0,
  est: -300,
  edt: -240,
  cst: -360,
  cdt: -300,
  mst: -420,
  mdt: -360,
  pst: -480,
  pdt: -420,
  utc: 0,
  z: 0,
  wet: 0,
  west: 60,
  bst: 60,
  cet: 60,
  cest: 120,
  met: 60,
  mest: 120,
  eet: 120,
  eest: 180,
  msk: 180,
  hkt: 480,
  sgt: 480,
  awst: 480,
  jst: 540,
  kst: 540,
  acst: 570,
  aest: 600,
  aedt: 660,
  nzst: 720,
  nzdt: 780,
  hst: -600,
  akst: -540,
  akdt: -480,
};

const TIME = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(z|[+-]\d{2}:?\d{2})?$/i;
const NUMERIC_ZONE = /^([+-])(\d{2}):?(\d{2})$/;
/**
 * A zone short of four digits, as some mailers write it: "-600" is -06:00 and "+6" is +06:00. This is
 * how V8's Date (and so mailparser) reads it: one or two digits are hours, three or four are hhmm.
 */
const SHORT_ZONE = /^([+-])(\d{1,3})$/;
const NAMED_OFFSET_ZONE = /^(?:gmt|utc|ut)([+-])(\d{1,2})(?::?(\d{2}))?$/;
const DASHED_DATE = /^(\d{1,2})-([a-z]{3,9})-(\d{2,4})$/i;
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[t ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(z|[+-]\d{2}(?::?\d{2})?)?$/i;

const MONTH_ABBREVIATIONS = MONTHS.map((name) => name[0]?.toUpperCase() + name.slice(1, 3));

/**
 * The form nearly every mailer writes: RFC 5322 s.3.3, a real day name or none, a numeric zone, no
 * comment. Read directly; the general path below reads it the same way, only slower.
 */
const CANONICAL_DATE =
  /^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ?)?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2})(?::(\d{2}))? ([+-])(\d{2})(\d{2})$/;

function stripComments(text: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (depth > 0 && ch === '\\') i++;
    else if (ch === '(') {
      if (depth === 0) out += ' ';
      depth++;
    } else if (ch === ')') depth = Math.max(0, depth - 1);
    else if (depth === 0) out += ch;
  }
  return out;
}

/** "+0530", "-05:00", "Z": minutes east of UTC, or null when out of range. */
function numericZone(sign: string, hours: string, minutes: string | undefined): number | null {
  const h = Number(hours);
  const m = Number(minutes ?? '0');
  if (h > 23 || m > 59) return null;
  return (sign === '-' ? -1 : 1) * (h * 60 + m);
}

function zoneFromSuffix(suffix: string): number | null {
  if (suffix.toLowerCase() === 'z') return 0;
  const zone = NUMERIC_ZONE.exec(suffix);
  return zone ? numericZone(zone[1] ?? '+', zone[2] ?? '', zone[3]) : null;
}

/** RFC 5322 s.4.3: 00-49 are 2000-2049, 50-99 and any three-digit year are 1900 plus the year. */
function fullYear(digits: string): number {
  const year = Number(digits);
  if (digits.length === 2) return year < 50 ? 2000 + year : 1900 + year;
  if (digits.length === 3) return 1900 + year;
  return year;
}

/** "123" of "40.123456": milliseconds, further digits dropped (an ISO string holds milliseconds). */
function millisecondsOf(fraction: string | undefined): number {
  return fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'));
}

/**
 * Any instant the index's sort key can order (years 0000-9999, as dynamodb-table.ts's toSortableIso
 * holds them): RFC 5322 s.3.3 puts no bound on the year, and archives imported from old mail carry
 * dates before 1970. A date is a fact about the mail, not a judgement of it: even a forged far-future
 * one is what the sender wrote, as mailparser kept it.
 */
const FIRST_SORTABLE_MS = Date.parse('0000-01-01T00:00:00.000Z');
const LAST_SORTABLE_MS = Date.parse('9999-12-31T23:59:59.999Z');

function isoFrom(
  fields: {
    year: number;
    month: number;
    day: number;
    hour: number;
    minute: number;
    second: number;
    millisecond: number;
  },
  zoneMinutes: number,
): string | null {
  const { year, month, day, hour, minute, second, millisecond } = fields;
  if (year > 9999 || hour > 23 || minute > 59 || second > 60) return null;
  // A leap second (":60") is the last second of its minute.
  const check = new Date(0);
  // setUTCFullYear, unlike Date.UTC, reads years 0-99 as themselves rather than as 1900-1999.
  check.setUTCFullYear(year, month, day);
  check.setUTCHours(hour, minute, Math.min(second, 59), millisecond);
  // A date past its month's end ("31 Feb") rolls over into the next month: such a date does not exist.
  if (check.getUTCMonth() !== month || check.getUTCDate() !== day) return null;
  const ms = check.getTime() - zoneMinutes * 60_000;
  if (ms < FIRST_SORTABLE_MS || ms > LAST_SORTABLE_MS) return null;
  return new Date(ms).toISOString();
}

/**
 * Parses a Date header to ISO 8601 (UTC): RFC 5322 date-time with the obsolete forms (two- and
 * three-digit years, named and military zones, no day of week, folding and comments anywhere, spaces
 * around ":") and common junk (no zone, no seconds, no time, "GMT+0200", asctime order
 * "Mon Jan 15 10:00:00 2024", "15-Jan-2024", ISO 8601, AM/PM). Null when it does not parse, names a
 * day that does not exist, or lies outside the years 0000-9999 the index can order. Fractions of a
 * second are kept to the millisecond.
 * A missing zone or an unknown zone name counts as UTC, as RFC 5322 s.4.3 says of military zones.
 */
export function parseMessageDate(raw: string): string | null {
  const canonical = CANONICAL_DATE.exec(raw);
  if (canonical) return fromCanonical(canonical);
  const text = stripComments(bound(raw, MAX_DATE_HEADER_LENGTH))
    .replace(/\s*:\s*/g, ':')
    .trim();
  const iso = ISO_DATE.exec(text);
  if (iso) return fromIso(iso);
  return fromWords(text);
}

function fromCanonical(canonical: RegExpExecArray): string | null {
  const zone = numericZone(canonical[7] ?? '+', canonical[8] ?? '', canonical[9]);
  if (zone === null) return null;
  return isoFrom(
    {
      year: Number(canonical[3]),
      month: MONTH_ABBREVIATIONS.indexOf(canonical[2] ?? ''),
      day: Number(canonical[1]),
      hour: Number(canonical[4]),
      minute: Number(canonical[5]),
      second: Number(canonical[6] ?? '0'),
      millisecond: 0,
    },
    zone,
  );
}

function fromIso(iso: RegExpExecArray): string | null {
  const zone = iso[8] === undefined ? 0 : zoneFromSuffix(iso[8]);
  if (zone === null) return null;
  return isoFrom(
    {
      year: Number(iso[1]),
      month: Number(iso[2]) - 1,
      day: Number(iso[3]),
      hour: Number(iso[4] ?? '0'),
      minute: Number(iso[5] ?? '0'),
      second: Number(iso[6] ?? '0'),
      millisecond: millisecondsOf(iso[7]),
    },
    zone,
  );
}

interface Clock {
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

/** What the words of a free-form date say; `zone` null: a zone was written but is out of range. */
interface DateWords {
  month: number | undefined;
  time: Clock | undefined;
  zone: number | null | undefined;
  meridiem: 'am' | 'pm' | undefined;
  /** Numbers before the month name, and after it. */
  beforeMonth: string[];
  afterMonth: string[];
}

/** The free-form path: words in any order, read by what each looks like. */
function fromWords(text: string): string | null {
  const { month, time, zone, meridiem, beforeMonth, afterMonth } = readWords(dateTokens(text));
  if (month === undefined || zone === null) return null;

  // RFC order is "15 Jan 2024"; asctime order is "Jan 15 ... 2024".
  const dayText = beforeMonth.length > 0 ? beforeMonth[beforeMonth.length - 1] : afterMonth[0];
  const yearText = beforeMonth.length > 0 ? afterMonth[0] : afterMonth[1];
  if (dayText === undefined || yearText === undefined || dayText.length > 2) return null;

  const clock = time ?? { hour: 0, minute: 0, second: 0, millisecond: 0 };
  let hour = clock.hour;
  if (meridiem !== undefined) {
    if (hour < 1 || hour > 12) return null;
    hour = (hour % 12) + (meridiem === 'pm' ? 12 : 0);
  }
  return isoFrom(
    {
      year: fullYear(yearText),
      month,
      day: Number(dayText),
      hour,
      minute: clock.minute,
      second: clock.second,
      millisecond: clock.millisecond,
    },
    zone ?? 0,
  );
}

/** The words of a date, "15-Jan-2024" taken as three. */
function dateTokens(text: string): string[] {
  const tokens: string[] = [];
  for (const token of text.split(/[\s,]+/)) {
    const dashed = DASHED_DATE.exec(token);
    if (dashed) tokens.push(dashed[1] ?? '', dashed[2] ?? '', dashed[3] ?? '');
    else if (token !== '') tokens.push(token);
  }
  return tokens;
}

function readWords(tokens: readonly string[]): DateWords {
  const words: DateWords = {
    month: undefined,
    time: undefined,
    zone: undefined,
    meridiem: undefined,
    beforeMonth: [],
    afterMonth: [],
  };
  for (const token of tokens) {
    const lower = token.toLowerCase();
    const clock = words.time === undefined ? TIME.exec(token) : null;
    if (clock) {
      words.time = {
        hour: Number(clock[1]),
        minute: Number(clock[2]),
        second: Number(clock[3] ?? '0'),
        millisecond: millisecondsOf(clock[4]),
      };
      if (clock[5] !== undefined && words.zone === undefined) words.zone = zoneFromSuffix(clock[5]);
      continue;
    }
    const short =
      words.zone === undefined && words.time !== undefined ? SHORT_ZONE.exec(token) : null;
    if (short) {
      const digits = short[2] ?? '';
      words.zone =
        digits.length <= 2
          ? numericZone(short[1] ?? '+', digits, undefined)
          : numericZone(short[1] ?? '+', digits.slice(0, -2), digits.slice(-2));
      continue;
    }
    const numeric = words.zone === undefined ? NUMERIC_ZONE.exec(token) : null;
    if (numeric) {
      words.zone = numericZone(numeric[1] ?? '+', numeric[2] ?? '', numeric[3]);
      continue;
    }
    const offset = words.zone === undefined ? NAMED_OFFSET_ZONE.exec(lower) : null;
    if (offset) {
      words.zone = numericZone(offset[1] ?? '+', offset[2] ?? '', offset[3]);
      continue;
    }
    if (/^\d+$/.test(token)) {
      (words.month === undefined ? words.beforeMonth : words.afterMonth).push(token);
      continue;
    }
    const word = /^([a-z]+)\.?$/.exec(lower)?.[1];
    if (word === undefined) continue;
    if (words.month === undefined && nameIndex(MONTHS, word) >= 0)
      words.month = nameIndex(MONTHS, word);
    else if (nameIndex(WEEKDAYS, word) >= 0) continue;
    else if (word === 'am' || word === 'pm') words.meridiem = word;
    else if (words.zone === undefined && words.time !== undefined) words.zone = ZONES[word] ?? 0;
  }
  return words;
}
