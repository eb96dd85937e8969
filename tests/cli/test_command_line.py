"""The command line as a new user meets it: fast help, one-line errors (issue 15, item 8)."""

import subprocess
import sys


def test_top_level_help_imports_no_torch():
    code = (
        "import sys\n"
        "from imcpnn.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'imcpnn --help imported torch'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for command in ("demo", "train", "eval", "experiment", "circuit", "bench"):
        assert command in result.stdout


def test_every_command_still_builds_its_full_parser():
    from imcpnn.cli.main import build_parser

    parser = build_parser()  # every module registers: the documentation view
    help_text = parser.format_help()
    assert "circuit" in help_text and "bench" in help_text


def test_an_unknown_command_is_an_argparse_error(capsys):
    from imcpnn.cli.main import main

    try:
        main(["trian"])
    except SystemExit as exit_:
        assert exit_.code == 2
    assert "invalid choice" in capsys.readouterr().err
