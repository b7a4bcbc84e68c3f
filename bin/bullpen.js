#!/usr/bin/env node
// Entry point: registers the TypeScript loader (pipelines are TypeScript files), then runs the CLI.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
