"""Shared set-up of the training scripts: thread count, output folder, and a timestamped log to stdout + OUT/log.txt."""
import os
import time

import torch


def start_run(out, threads):
    torch.set_num_threads(threads)
    os.makedirs(out, exist_ok=True)
    log = open(os.path.join(out, 'log.txt'), 'a')

    def say(msg):
        line = time.strftime('%H:%M:%S ') + msg
        print(line, flush=True)
        log.write(line + '\n')
        log.flush()

    return say
