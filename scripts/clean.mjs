// Builds start from an empty dist/: a renamed or deleted Lua script must not linger there, since the
// script loader registers every file it finds.
import { rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
