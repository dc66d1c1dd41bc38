// The one error a bad flag, variable or config file raises: its message names the key, the value and the rule.
export class ConfigError extends Error {
  override name = 'ConfigError';
}
