"""Run mini-swe-agent on one task; executed by the peers' own interpreter, never devbot's.

    python mini_runner.py CONFIG MODEL API_BASE STEP_LIMIT < task.txt

CONFIG is a config file of the package (`default` or `mini_textbased`); the work happens in
the current directory. Prints the exit status as the last line.
"""

import sys
from pathlib import Path

import yaml
from minisweagent import package_dir
from minisweagent.agents.default import DefaultAgent
from minisweagent.environments.local import LocalEnvironment

config_name, model_name, api_base, step_limit = sys.argv[1:5]
config = yaml.safe_load((Path(package_dir) / "config" / f"{config_name}.yaml").read_text())
if config_name == "mini_textbased":
    from minisweagent.models.litellm_textbased_model import LitellmTextbasedModel as Model
else:
    from minisweagent.models.litellm_model import LitellmModel as Model
model_config = dict(config.get("model", {}))
model_config["model_kwargs"] = {
    **model_config.get("model_kwargs", {}),
    "api_base": api_base,
    "api_key": "x",
    "temperature": 0,
}
model_config.pop("model_class", None)
model = Model(model_name=model_name, cost_tracking="ignore_errors", **model_config)
agent_config = {**config["agent"], "step_limit": int(step_limit), "cost_limit": 0}
agent_config.pop("mode", None)
agent_config.pop("confirm_exit", None)
agent = DefaultAgent(model, LocalEnvironment(**config.get("environment", {})), **agent_config)
result = agent.run(sys.stdin.read())
print(result.get("exit_status"))
