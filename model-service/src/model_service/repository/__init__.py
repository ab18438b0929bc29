"""The shared model repository: the store on disk, uploads, archives, imports, and what
reaches every replica.

The re-export below keeps `broadcast.py`'s import working until broadcast moves into this
package (issue 12); delete it then.
"""

from model_service.repository.repository import REDIS_FAILURES, ModelRepository

__all__ = ["REDIS_FAILURES", "ModelRepository"]
