import { describe } from 'vitest';
import { startDovecotLab } from '../support/dovecot-lab.js';
import { describeConformance } from './conformance.js';

describe('Dovecot POP3 conformance', () => {
  describeConformance('dovecot', startDovecotLab);
});
