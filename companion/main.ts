// The module's entry point: Companion's module host starts this file (bundled as main.js) and the base library
// connects it over IPC.
import { runEntrypoint } from '@companion-module/base';
import { GalaInstance } from './gala-instance.ts';

runEntrypoint(GalaInstance, []);
