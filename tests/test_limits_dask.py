"""The local Dask cluster: only this process may use it, and it leaves nothing behind.

``--dask local`` listened on 127.0.0.1 without authentication (another user of the
machine could have run code as the sweep's user), left lock files in $TMPDIR after every
sweep, and left its scratch folder when Ctrl-C came while it started.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

pytest.importorskip("distributed")
pytest.importorskip("cryptography")

from salessim.experiments.executors import DaskExecutor  # noqa: E402

pytestmark = pytest.mark.xdist_group("dask")


@pytest.fixture
def own_tmp(tmp_path, monkeypatch):
    """$TMPDIR of this test alone, to see what a cluster leaves in it."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.mark.slow
def test_the_local_cluster_speaks_tls_and_refuses_a_client_without_its_certificate(own_tmp):
    import distributed

    with DaskExecutor("local", workers=1) as executor:
        address = executor._client.scheduler.address
        assert address.startswith("tls://127.0.0.1:")
        assert [r for _, r in executor.map_unordered(abs, [-3, -4])] in ([3, 4], [4, 3])
        with pytest.raises(Exception):  # noqa: B017 - TLS refuses it, in whichever way
            distributed.Client(address.replace("tls://", "tcp://"), timeout="3s")
        with pytest.raises(Exception):  # noqa: B017
            distributed.Client(address, timeout="3s")  # TLS, but no certificate of ours
    assert list(own_tmp.iterdir()) == []  # no scratch folder, no lock files


def test_an_interrupted_start_leaves_no_scratch_folder(own_tmp, monkeypatch):
    import dask
    import distributed

    before = dask.config.get("temporary-directory", None)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(distributed, "LocalCluster", interrupted)
    with pytest.raises(KeyboardInterrupt):
        DaskExecutor("local", workers=1)
    assert list(own_tmp.iterdir()) == []
    assert dask.config.get("temporary-directory", None) == before  # restored


def test_the_dask_extra_names_cryptography():
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"cryptography>=41"' in text
