import { describe } from 'vitest';
import { startMailutilsLab } from '../support/mailutils-lab.js';
import { describeConformance } from './conformance.js';

describe('GNU Mailutils POP3 conformance', () => {
  describeConformance('mailutils', startMailutilsLab);
});
