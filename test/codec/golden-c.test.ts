import { goldenCaseTests } from './golden-cases.ts';

goldenCaseTests('C');
