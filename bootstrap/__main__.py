"""The CI/CD bootstrap: what GitHub Actions needs in an AWS account before the first deploy (docs/cicd.md).

Run once per account by an administrator, from this directory: ``pulumi up --stack ci``. Its settings and
components live with the platform's (stacks/settings/bootstrap.py, components/bootstrap.py).
"""

import sys
from pathlib import Path

# The CLI runs this program from bootstrap/; its code lives in the repository root, beside the platform's.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components import bootstrap
from stacks.settings import BootstrapSettings, load_settings

settings = load_settings(BootstrapSettings)
delivery_foundation = bootstrap.build(settings)
bootstrap.export(delivery_foundation)
