"""The LeaseWeb simulator and goiardi, the same session fixtures as tests/leaseweb and tests/chef."""

from tests.chef.conftest import goiardi  # noqa: F401
from tests.leaseweb.conftest import session_simulator, sim  # noqa: F401
