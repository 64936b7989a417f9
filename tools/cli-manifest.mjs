// Part of `npm run build`: writes dist/cli/commands.json (name, usage term and description of every sub-command, read
// from the compiled modules themselves) so `webvcm --help` and `--version` start without loading any of them.
import { writeFileSync } from 'node:fs';
const { describeSubcommands } = await import('../dist/cli/main.js');
const list = await describeSubcommands();
writeFileSync(new URL('../dist/cli/commands.json', import.meta.url), JSON.stringify(list, null, 1) + '\n');
