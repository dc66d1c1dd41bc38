// The Companion connection to one Gala, as the module host runs it: its settings, the link, and the actions,
// feedbacks and variables kept in step with Gala's live state (the cue pickers follow the rundown).
import { InstanceBase, InstanceStatus, type SomeCompanionConfigField } from '@companion-module/base';
import { actionDefinitions } from './actions.ts';
import { configFields, parseConfig, type GalaConfig, type GalaSecrets } from './config.ts';
import { cueChoices } from './cue-options.ts';
import { feedbackDefinitions, FEEDBACKS_OF } from './feedbacks.ts';
import { GalaLink, GalaRequestError, type GalaView, type ViewPart } from './gala-link.ts';
import { variableValues, VARIABLES } from './variables.ts';

const NO_LINK: GalaView = { control: null, totals: null, health: null, graphics: {}, link: 'closed' };

export class GalaInstance extends InstanceBase<GalaConfig, GalaSecrets> {
  private link: GalaLink | null = null;
  /** The cue choices the definitions were built with: rebuilt only when the rundown's cues change. */
  private cuesKey: string | null = null;
  private readonly sent = new Map<string, unknown>();

  override async init(config: GalaConfig, _isFirstInit: boolean, secrets: GalaSecrets): Promise<void> {
    this.setVariableDefinitions(VARIABLES);
    this.connect(config, secrets);
  }

  override async configUpdated(config: GalaConfig, secrets: GalaSecrets): Promise<void> {
    this.connect(config, secrets);
  }

  override async destroy(): Promise<void> {
    this.link?.stop();
    this.link = null;
  }

  override getConfigFields(): SomeCompanionConfigField[] {
    return configFields();
  }

  private view(): GalaView {
    return this.link?.view ?? NO_LINK;
  }

  private connect(config: GalaConfig, secrets: GalaSecrets): void {
    this.link?.stop();
    this.link = null;
    this.cuesKey = null;
    this.define();
    const target = parseConfig(config, secrets);
    if ('error' in target) {
      this.updateStatus(InstanceStatus.BadConfig, target.error);
      this.refresh('link');
      return;
    }
    this.updateStatus(InstanceStatus.Connecting);
    const link = new GalaLink(target, (part, detail) => {
      if (this.link === link) this.changed(link, part, detail);
    });
    this.link = link;
    link.start();
  }

  /** (Re)defines actions and feedbacks when the rundown's cues differ from the ones the pickers hold. */
  private define(): void {
    const cues = cueChoices(this.view());
    const key = JSON.stringify(cues);
    if (key === this.cuesKey) return;
    this.cuesKey = key;
    const post = (path: string, body?: object) => {
      if (this.link === null) throw new Error('not connected: check the connection settings');
      return this.link.post(path, body);
    };
    this.setActionDefinitions(actionDefinitions(post, cues));
    this.setFeedbackDefinitions(feedbackDefinitions(() => this.view(), cues));
  }

  private changed(link: GalaLink, part: ViewPart, detail?: string): void {
    if (part === 'control') this.define();
    if (part === 'link') {
      if (link.view.link === 'open') void this.checkToken(link);
      else if (link.view.link === 'connecting') this.updateStatus(InstanceStatus.Connecting);
      else this.updateStatus(InstanceStatus.ConnectionFailure, `live channel: ${detail ?? 'closed'}; retrying`);
    }
    this.refresh(part);
  }

  /** Pushes the variables that changed, and has the feedbacks this part drives checked again. */
  private refresh(part: ViewPart): void {
    const changed: Record<string, string | number> = {};
    for (const [k, v] of Object.entries(variableValues(this.view()))) {
      if (v === undefined || this.sent.get(k) === v) continue;
      this.sent.set(k, v);
      changed[k] = v as string | number;
    }
    if (Object.keys(changed).length > 0) this.setVariableValues(changed);
    this.checkFeedbacks(...FEEDBACKS_OF[part]);
  }

  /**
   * The live channel admits anyone (its public topics), so the token is checked on the control API at each
   * connect: a wrong token says so instead of leaving the buttons dark.
   */
  private async checkToken(link: GalaLink): Promise<void> {
    try {
      const s = (await link.get('/v1/control/session')) as { role?: string };
      if (this.link !== link) return;
      if (s.role === 'viewer') this.updateStatus(InstanceStatus.UnknownWarning, 'viewer token: Gala refuses every action; use the producer token');
      else this.updateStatus(InstanceStatus.Ok);
    } catch (e) {
      if (this.link !== link) return;
      if (e instanceof GalaRequestError && e.status === 401) this.updateStatus(InstanceStatus.AuthenticationFailure, 'token refused by Gala (GALA_PRODUCER_TOKEN)');
      else this.updateStatus(InstanceStatus.ConnectionFailure, (e as Error).message);
    }
  }
}
