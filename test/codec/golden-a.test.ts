import { goldenCaseTests } from './golden-cases.ts';

goldenCaseTests('A');
