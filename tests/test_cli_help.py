"""The command lines' help and their libraries' own words (click, argparse) follow the terminal's
language (SPEC §6.1): LC_ALL, then LC_MESSAGES, then LANG — real processes, as an operator runs them."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir, extract_from_file

from monitor import library_words
from monitor.languages import translator

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")
ZH, EN = "zh_CN.UTF-8", "en_US.UTF-8"
to_chinese = translator("zh-CN")

# Every command's help texts as written (English ids), read in a process of its own in English
# whatever this test process's language is.
_MONITOR_TEXTS = """
import json, click
from monitor.cli import main

def walk(command, path):
    texts = [command.help] + [p.help for p in command.params if isinstance(p, click.Option) and p.name != "help"]
    found = {" ".join(path): [t for t in texts if t]}
    for name, sub in getattr(command, "commands", {}).items():
        found.update(walk(sub, path + [name]))
    return found

print(json.dumps(walk(main, [])))
"""
_DEVICE_TEXTS = """
import argparse, importlib, json, sys
parser = importlib.import_module(sys.argv[1]).build_parser()
helps = [[a.help, a.default] for a in parser._actions
         if a.help and a.help is not argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)]
print(json.dumps({"description": parser.description, "helps": helps}))
"""


def run(language: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANG", "LC_"))}  # LANGUAGE too
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**env, **language})


def squeezed(text: str) -> str:
    """Without whitespace: the libraries rewrap lines to the terminal's width."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def monitor_texts() -> dict[str, list[str]]:
    done = run({"LANG": "C.UTF-8"}, "-c", _MONITOR_TEXTS)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_monitor_command_has_help_in_chinese_and_none_in_english(monitor_texts):
    assert {"", "run", "report", "lint", "audit verify", "rejudge", "token create"} <= set(monitor_texts)
    for command, texts in monitor_texts.items():
        done = run({"LANG": ZH}, "-m", "monitor", *command.split(), "--help")
        assert done.returncode == 0, done.stderr
        shown = squeezed(done.stdout)
        assert shown.startswith(squeezed(f"用法: python -m monitor {command}")), done.stdout
        assert "选项:" in shown and "显示本帮助信息并退出。" in shown
        for text in texts:
            assert squeezed(to_chinese(text)) in shown, (command, text)
            assert squeezed(text) not in shown, (command, text)
        if command == "rejudge":
            assert "[必填]" in shown and "[required]" not in shown
        if command == "report":  # --group-by's help is written when shown, from the registry of group keys
            assert squeezed("逗号分隔：site, day, week") in shown
        assert "Usage:" not in done.stdout and "Options:" not in done.stdout
        assert "Show this message and exit." not in done.stdout


@pytest.mark.parametrize("language", [{"LANG": "C.UTF-8"}, {"LANG": EN}, {"LANG": ZH, "LC_ALL": EN},
                                      {"LANG": ZH, "LC_MESSAGES": "C"}])
@pytest.mark.parametrize("command", ["", "run", "report", "lint", "audit verify"])
def test_the_help_is_english_in_an_english_terminal(monitor_texts, language, command):
    done = run(language, "-m", "monitor", *command.split(), "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: python -m monitor") and "Options:" in done.stdout
    assert not CJK.search(done.stdout), done.stdout
    for text in monitor_texts[command]:
        assert squeezed(text) in squeezed(done.stdout), text


@pytest.mark.parametrize("args, chinese, english", [
    (["run", "--bogus"], "错误：没有 '--bogus' 这个选项。", "Error: No such option '--bogus'"),
    (["rejudge"], "错误：缺少参数 'STANDARD_ID'", "Error: Missing argument 'STANDARD_ID'"),
    (["report", "--format", "doc"], "不在可选值", "is not one of"),
    (["audit", "frobnicate"], "错误：没有 'frobnicate' 这个命令。", "Error: No such command 'frobnicate'"),
])
def test_a_usage_error_is_one_line_in_the_terminal_language(args, chinese, english):
    zh = run({"LANG": ZH}, "-m", "monitor", *args)
    assert zh.returncode == 2 and chinese in zh.stderr, zh.stderr
    assert "用法: python -m monitor" in zh.stderr and "查看帮助。" in zh.stderr
    assert "Traceback" not in zh.stderr and english not in zh.stderr and "Error" not in zh.stderr
    en = run({"LANG": EN}, "-m", "monitor", *args)
    assert en.returncode == 2 and english in en.stderr and not CJK.search(en.stderr), en.stderr


@pytest.mark.parametrize("module", ["sensors.replay", "sensors.simulate", "sensors.widelog"])
def test_the_device_tools_help_follows_the_terminal_language(module):
    done = run({"LANG": "C.UTF-8"}, "-c", _DEVICE_TEXTS, module)
    assert done.returncode == 0, done.stderr
    written = json.loads(done.stdout)
    english, chinese = (run({"LANG": language}, "-m", module, "--help") for language in (EN, ZH))
    assert english.returncode == chinese.returncode == 0, chinese.stderr
    assert english.stdout.startswith("usage:") and not CJK.search(english.stdout)
    assert chinese.stdout.startswith("用法: python -m " + module)
    assert "选项:" in chinese.stdout and "显示本帮助信息并退出" in chinese.stdout
    for text, default in [(written["description"], None), *written["helps"]]:
        values = {"default": default}  # argparse fills %(default)s and turns %% into %
        assert squeezed(text % values) in squeezed(english.stdout), text
        assert squeezed(to_chinese(text) % values) in squeezed(chinese.stdout), text
        assert squeezed(text % values) not in squeezed(chinese.stdout), text


def test_a_device_tool_usage_error_is_in_the_terminal_language():
    zh = run({"LANG": ZH}, "-m", "sensors.widelog")
    assert zh.returncode == 2 and "python -m sensors.widelog: 错误: 缺少以下必需参数：FILE, --case-col" in zh.stderr
    en = run({"LANG": EN}, "-m", "sensors.widelog")
    assert "error: the following arguments are required: FILE, --case-col" in en.stderr


def test_the_device_tools_still_load_no_web_framework():
    """sensors runs on a device with paho-mqtt and requests only: its language module is stdlib."""
    done = run({"LANG": ZH}, "-c", "import json, sys, sensors.replay, sensors.simulate, sensors.widelog; "
                                   "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert loaded.isdisjoint({"flask", "flask_babel", "babel", "werkzeug", "sqlalchemy", "click"}), loaded


def _click_words() -> set:
    import click

    said = {message for _file, _line, message, _comments, _context in extract_from_dir(Path(click.__file__).parent)}
    # looked up as _(extra["required"]), which extraction cannot follow; the help test sees it shown
    return said | {"required"}


def _argparse_words() -> set:
    import argparse

    return {message for _line, message, _comments, _context in extract_from_file("python", argparse.__file__)}


@pytest.mark.parametrize("words, said", [(library_words.CLICK, _click_words),
                                         (library_words.ARGPARSE, _argparse_words)])
def test_the_library_words_we_translate_are_ones_the_library_says(words, said):
    """A library upgrade that rewords a message would leave our translation unused: noticed here."""
    assert sorted(set(words) - said(), key=str) == []
