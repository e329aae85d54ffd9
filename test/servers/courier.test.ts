import { describe } from 'vitest';
import { startCourierLab } from '../support/courier-lab.js';
import { describeConformance } from './conformance.js';

describe('Courier POP3 conformance', () => {
  describeConformance('courier', startCourierLab);
});
