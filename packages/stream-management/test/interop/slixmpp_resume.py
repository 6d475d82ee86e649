"""slixmpp (XEP-0198 plugin) against Strand: enable SM with resumption, lose the transport
without a close tag, reconnect when the test says GO (stdin), resume, print the messages that
arrive, then close cleanly.

Usage: slixmpp_resume.py HOST PORT CA_FILE
Prints: ENABLED <id> | DROPPED | RESUMED <h> | GOT <body> | DONE
"""
import asyncio
import sys

import slixmpp


class Bot(slixmpp.ClientXMPP):
    def __init__(self, host, port, ca):
        super().__init__('alice@localhost/slix', 'secret')
        self.ca_certs = ca
        self.addr = (host, port)
        self.phase = 'start'
        self.done = asyncio.get_event_loop().create_future()
        self.register_plugin('xep_0198')
        self.add_event_handler('session_start', self.on_start)
        self.add_event_handler('sm_enabled', self.on_enabled)
        self.add_event_handler('session_resumed', self.on_resumed)
        self.add_event_handler('message', self.on_message)
        self.add_event_handler('disconnected', self.on_disconnected)

    async def on_start(self, _event):
        self.send_presence()

    def on_enabled(self, st):
        print('ENABLED', st['id'], flush=True)
        # Lose the transport (no </stream:stream>) once the presence went out.
        self.loop.call_later(0.3, self.transport.abort)

    def on_disconnected(self, _event):
        if self.phase == 'start':
            self.phase = 'dropped'
            print('DROPPED', flush=True)
            self.loop.create_task(self.reconnect_on_go())
        elif self.phase == 'closing' and not self.done.done():
            self.done.set_result(True)

    async def reconnect_on_go(self):
        await self.loop.run_in_executor(None, sys.stdin.readline)
        self.phase = 'reconnecting'
        self.connect(self.addr)

    def on_resumed(self, st):
        print('RESUMED', st['h'], flush=True)
        self.phase = 'resumed'
        self.loop.call_later(1.0, self.finish)

    def on_message(self, msg):
        print('GOT', msg['body'], flush=True)

    def finish(self):
        self.phase = 'closing'
        print('DONE', flush=True)
        self.disconnect()


def main():
    host, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    bot = Bot(host, port, ca)
    bot.connect((host, port))
    loop = asyncio.get_event_loop()
    loop.run_until_complete(asyncio.wait_for(bot.done, 30))


if __name__ == '__main__':
    main()
