// A thin stand-in for Bitfocus Companion's module host, for tests: it starts a built module the way Companion does
// (a Node child process with an IPC channel, MODULE_MANIFEST, CONNECTION_ID and VERIFICATION_TOKEN in its
// environment) and speaks the host side of the base library's IPC with the library's own IpcWrapper and message
// types, as Companion's connection handler does: accept the registration, init with a config, place feedbacks on
// buttons, execute actions, and keep what the module sends back (definitions, variable values, feedback values,
// status, log).
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type {
  ExecuteActionResponseMessage,
  HostToModuleEventsV0,
  LogMessageMessage,
  ModuleToHostEventsV0,
  SetActionDefinitionsMessage,
  SetFeedbackDefinitionsMessage,
  SetStatusMessage,
} from '@companion-module/base/dist/host-api/api.js';
import { IpcWrapper, type IpcEventHandlers } from '@companion-module/base/dist/host-api/ipc-wrapper.js';
import type { ModuleToHostEventsInit } from '@companion-module/base/dist/host-api/versions.js';
import type { OptionsObject } from '@companion-module/base';


export interface CompanionHost {
  /** The module's last status, and its log. */
  status(): SetStatusMessage | null;
  log: LogMessageMessage[];
  actions(): SetActionDefinitionsMessage['actions'];
  feedbacks(): SetFeedbackDefinitionsMessage['feedbacks'];
  variable(id: string): string | number | boolean | undefined;
  /** The value the module last gave a placed feedback. */
  feedbackValue(id: string): unknown;
  /** Presses a button's action, as Companion does: the answer says whether the module's callback succeeded. */
  execute(actionId: string, options?: OptionsObject): Promise<ExecuteActionResponseMessage>;
  /** Places a feedback on a button (Companion's updateFeedbacks): the module checks it now and on every change. */
  placeFeedback(id: string, feedbackId: string, options?: OptionsObject): Promise<void>;
  /** Resolves when `cond` holds, checked on every message from the module; rejects after `ms`. */
  until(what: string, cond: () => boolean, ms?: number): Promise<void>;
  /** destroy, as Companion does before it ends the process, then the process ends. */
  close(): Promise<void>;
}

export async function startCompanionHost(opts: { moduleDir: string; config: object; secrets: object; label?: string }): Promise<CompanionHost> {
  const manifestPath = join(opts.moduleDir, 'companion', 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { runtime: { entrypoint: string } };
  const connectionId = `gala-${randomBytes(4).toString('hex')}`;
  const verificationToken = randomBytes(16).toString('hex');

  let status: SetStatusMessage | null = null;
  const log: LogMessageMessage[] = [];
  let actions: SetActionDefinitionsMessage['actions'] = [];
  let feedbacks: SetFeedbackDefinitionsMessage['feedbacks'] = [];
  const variables = new Map<string, string | number | boolean | undefined>();
  const feedbackValues = new Map<string, unknown>();
  const waiters = new Set<() => void>();
  const seen = () => {
    for (const w of [...waiters]) w();
  };
  let registered: () => void = () => undefined;
  const registration = new Promise<void>((r) => (registered = r));

  const refuse = async () => {
    throw new Error('not offered by this host');
  };
  const handlers: IpcEventHandlers<ModuleToHostEventsV0 & ModuleToHostEventsInit> = {
    register: async (msg) => {
      if (msg.connectionId !== connectionId || msg.verificationToken !== verificationToken) throw new Error('register: unknown connection');
      registered();
    },
    'log-message': async (msg) => {
      log.push(msg);
      seen();
    },
    'set-status': async (msg) => {
      status = msg;
      seen();
    },
    setActionDefinitions: async (msg) => {
      actions = msg.actions;
      seen();
    },
    setFeedbackDefinitions: async (msg) => {
      feedbacks = msg.feedbacks;
      seen();
    },
    setVariableDefinitions: async (msg) => {
      for (const v of msg.newValues ?? []) variables.set(v.id, v.value);
      seen();
    },
    setVariableValues: async (msg) => {
      for (const v of msg.newValues) variables.set(v.id, v.value);
      seen();
    },
    updateFeedbackValues: async (msg) => {
      for (const v of msg.values) feedbackValues.set(v.id, v.value);
      seen();
    },
    setPresetDefinitions: async () => undefined,
    saveConfig: async () => undefined,
    parseVariablesInString: async (msg) => ({ text: msg.text, variableIds: [] }),
    upgradedItems: async () => undefined,
    'send-osc': refuse,
    recordAction: refuse,
    setCustomVariable: refuse,
    sharedUdpSocketJoin: refuse,
    sharedUdpSocketLeave: refuse,
    sharedUdpSocketSend: refuse,
  };

  // No loader flags of the test runner: the module is plain bundled JavaScript, as Companion runs it.
  const child: ChildProcess = fork(join(dirname(manifestPath), manifest.runtime.entrypoint), [], {
    execArgv: [],
    env: { ...process.env, MODULE_MANIFEST: manifestPath, CONNECTION_ID: connectionId, VERIFICATION_TOKEN: verificationToken },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (d) => output.push(String(d)));
  child.stderr?.on('data', (d) => output.push(String(d)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ipc = new IpcWrapper<HostToModuleEventsV0, ModuleToHostEventsV0 & ModuleToHostEventsInit>(handlers, (m) => child.send(m), 5000);
  child.on('message', (m) => ipc.receivedMessage(m as Parameters<typeof ipc.receivedMessage>[0]));

  const until = (what: string, cond: () => boolean, ms = 10_000) =>
    new Promise<void>((resolve, reject) => {
      if (cond()) return resolve();
      const check = () => {
        if (!cond()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; module output:\n${output.join('')}`));
      }, ms);
      waiters.add(check);
    });

  try {
    await Promise.race([
      registration,
      exited.then(() => {
        throw new Error(`the module exited before registering:\n${output.join('')}`);
      }),
    ]);
    await ipc.sendWithCb('init', { label: opts.label ?? 'gala', isFirstInit: false, config: opts.config, secrets: opts.secrets, lastUpgradeIndex: -1, feedbacks: {}, actions: {} }, undefined, 10_000);
  } catch (e) {
    child.kill();
    throw e;
  }

  let n = 0;
  return {
    status: () => status,
    log,
    actions: () => actions,
    feedbacks: () => feedbacks,
    variable: (id) => variables.get(id),
    feedbackValue: (id) => feedbackValues.get(id),
    execute: async (actionId, options = {}) =>
      (await ipc.sendWithCb('executeAction', { action: { id: `action-${++n}`, controlId: 'bank:1:1', actionId, options, upgradeIndex: null, disabled: false }, surfaceId: 'streamdeck:test' })) ?? {
        success: true,
        errorMessage: undefined,
      },
    placeFeedback: async (id, feedbackId, options = {}) => {
      await ipc.sendWithCb('updateFeedbacks', { feedbacks: { [id]: { id, controlId: `bank:1:${id}`, feedbackId, options, isInverted: false, upgradeIndex: null, disabled: false } } });
    },
    until,
    close: async () => {
      if (child.exitCode === null) {
        await ipc.sendWithCb('destroy', {}).catch(() => undefined);
        child.kill();
      }
      await exited;
    },
  };
}
