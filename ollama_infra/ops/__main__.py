import sys

from ollama_infra.ops.cli import main

sys.exit(main())
