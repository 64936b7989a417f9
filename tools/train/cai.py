"""Import CompressAI's real model code (entropy models, GDN, ScaleHyperprior) from a source checkout built with
`tools/train/build-compressai.sh`, without its package __init__ (which pulls optional dependencies such as
torch_geometric and pytorch_msssim that Debian does not ship). The classes used are CompressAI's own, unmodified."""
import os
import sys
import types

CAI = os.environ.get('COMPRESSAI_SRC', os.path.join(os.path.dirname(__file__), '../../.cache/compressai-src'))


def _stub(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


pkg = _stub('compressai')
pkg.__path__ = [os.path.join(os.path.abspath(CAI), 'compressai')]
pkg._entropy_coder = 'ans'
pkg.available_entropy_coders = lambda: ['ans']
pkg.get_entropy_coder = lambda: 'ans'
_reg = lambda *a, **k: (lambda cls: cls)
_stub('compressai.registry', register_model=_reg, register_module=_reg, MODELS={})
_stub('compressai.registry.torch', register_model=_reg, register_module=_reg, MODELS={})

_models = _stub('compressai.models')
_models.__path__ = [os.path.join(pkg.__path__[0], 'models')]

from compressai.entropy_models import EntropyBottleneck, GaussianConditional  # noqa: E402
from compressai.layers import GDN  # noqa: E402
from compressai.models.google import ScaleHyperprior  # noqa: E402
from compressai.models.utils import conv, deconv  # noqa: E402
